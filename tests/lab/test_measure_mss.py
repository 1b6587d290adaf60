"""MSS and MTU (MS-01 to MS-04) against the Linux host DUT and the lwIP board
(ci-fast): the offered MSS follows the link MTU the test sets, the largest segment
follows the peer's MSS, and the reaction to ICMP fragmentation-needed; every figure
judged against the DUT's profile (pass or a documented deviation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.measure.mss import measure_largest_segment, measure_offered_mss, measure_pmtud
from tests.lab.judgekit import Bench, bench_for
from tests.lab.labkit import running_lab

DUTS = ["linux-host", "lwip-m3"]
PREFIX = "hx-"
LWIP_TCP_MSS = 536  # ci-fast keeps opt.h's TCP_MSS


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix=PREFIX, duts=DUTS) as inv:
        yield inv


@pytest.fixture(params=DUTS)
def bench(lab: Inventory, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    with bench_for(lab, request.param, tmp_path) as b:
        yield b


@pytest.mark.parametrize("mtu", [1500, 1280, 576])
def test_offered_mss_follows_link_mtu(bench: Bench, mtu: int) -> None:
    m = measure_offered_mss(bench.dut, bench.peer, bench.ip, bench.out, link_mtu=mtu)
    expected = mtu - 40 if bench.linux else min(LWIP_TCP_MSS, mtu - 40)
    assert m.value == expected and m.details["context"] == {"link_mtu": mtu}
    assert bench.dut.link()["mtu"] == "1500"  # restored
    bench.judged_ok(m)


def test_largest_segment_follows_peer_mss(bench: Bench) -> None:
    m = measure_largest_segment(bench.dut, bench.peer, bench.ip, bench.out)
    print(m.details["largest_by_peer_mss"])
    by_mss = {f.details["peer_mss"]: f.value for f in m.figures()}
    if bench.linux:
        assert by_mss == {536: 536, 1000: 1000, 1460: 1460, 9000: 1460, None: 536}
    else:
        assert set(by_mss.values()) == {LWIP_TCP_MSS}
    assert [f.name for f in m.figures()].count("default_mss_bytes") == 1
    assert all(f.details["fits_link_mtu"] for f in m.figures())
    bench.judged_ok(m)


def test_largest_segment_follows_link_mtu(bench: Bench) -> None:
    m = measure_largest_segment(bench.dut, bench.peer, bench.ip, bench.out,
                                peer_mss=(1460, 9000), link_mtu=1280)
    expected = 1240 if bench.linux else LWIP_TCP_MSS
    assert [f.value for f in m.figures()] == [expected, expected]
    assert bench.dut.link()["mtu"] == "1500"
    bench.judged_ok(m)


def test_pmtud(bench: Bench) -> None:
    """Linux caches the reduced path MTU for 600 s; the measurement makes it forget."""
    m = measure_pmtud(bench.dut, bench.peer, bench.ip, bench.out, next_hop_mtu=1280)
    print(m.details)
    after = measure_largest_segment(bench.dut, bench.peer, bench.ip, bench.out,
                                    peer_mss=(1460,))
    assert after.value == (1460 if bench.linux else LWIP_TCP_MSS)  # path MTU forgotten
    figures = {f.name: f.value for f in m.figures()}
    if bench.linux:
        assert figures["pmtud_df_set"] is True
        assert figures["pmtud_segment_before_bytes"] == 1460
        assert m.value == 1240 and 0 <= figures["pmtud_reaction_ms"] < 50
    else:  # lwIP 2.1.3: no DF, ICMP ignored, segments already fit
        assert figures["pmtud_df_set"] is False
        assert m.value == figures["pmtud_segment_before_bytes"] == LWIP_TCP_MSS
        assert "pmtud_reaction_ms" not in figures
    bench.judged_ok(m)
