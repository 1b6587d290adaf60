"""The handshake measurements (HS-06, HS-07, HS-08, HS-11, MS-01) against the Linux host
DUT and the lwIP board (ci-fast), each judged against the DUT's profile: pass or a
documented deviation, with the figures checked and every pcap readable by tshark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.measure.handshake import (
    measure_isn_predictability,
    measure_rst_on_closed_port,
    measure_syn_retries,
    measure_synack_retries,
)
from bench.measure.mss import measure_offered_mss
from tests.lab.judgekit import Bench, bench_for
from tests.lab.labkit import running_lab

DUTS = ["linux-host", "lwip-m3"]
PREFIX = "hm-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix=PREFIX, duts=DUTS) as inv:
        yield inv


@pytest.fixture(params=DUTS)
def bench(lab: Inventory, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    with bench_for(lab, request.param, tmp_path) as b:
        yield b


# With linear SYN timeouts the profile documents no single backoff factor.
UNJUDGED = {("linux-host", "syn_backoff_factor")}


@pytest.mark.slow
def test_syn_retries(bench: Bench) -> None:
    linux = bench.name == "linux-host"
    settings = {"tcp_syn_retries": 3} if linux else None  # the setting: 7 SYN resends
    m = measure_syn_retries(bench.dut, bench.peer, bench.ip, bench.out, settings=settings)
    print(m.model_dump_json(indent=1))
    assert m.details["error_seen"] and m.evidence.frames
    if linux:
        linear = int(bench.dut.consts().get("tcp_syn_linear_timeouts", "0"))
        assert m.value == 7 and m.details["error_code"] == "ETIMEDOUT"
        for gap in m.samples[:linear + 1]:
            assert gap == pytest.approx(1.0, rel=0.125)
        assert bench.dut.consts()["tcp_syn_retries"] != "3"  # restored
    else:
        assert m.value == 6
        for gap in m.samples:
            assert gap == pytest.approx(3.0, abs=0.5)
        assert 17.5 <= m.details["give_up_s"] <= 21.5
        assert m.details["rst_sent"] is False
    bench.judged_ok(m, UNJUDGED)


@pytest.mark.slow
def test_synack_retries(bench: Bench) -> None:
    linux = bench.name == "linux-host"
    settings = {"tcp_synack_retries": 2} if linux else None
    m = measure_synack_retries(bench.dut, bench.peer, bench.ip, bench.out, settings=settings)
    print(m.model_dump_json(indent=1))
    if linux:
        assert m.value == 2
        assert m.samples == [pytest.approx(1.0, rel=0.125), pytest.approx(2.0, rel=0.125)]
    else:
        assert m.value == 2
        assert m.samples == [pytest.approx(3.0, abs=0.5), pytest.approx(6.0, abs=0.5)]
    assert m.details["rst_sent"] is False
    bench.judged_ok(m, UNJUDGED)


def test_rst_on_closed_port(bench: Bench) -> None:
    m = measure_rst_on_closed_port(bench.dut, bench.peer, bench.ip, bench.out)
    assert m.value is True and m.details["reply_flags"] == "RA"
    assert m.details["rst_ack_ok"] and 0 <= m.details["reply_delay_ms"] < 100
    bench.judged_ok(m, UNJUDGED)


def test_isn_predictability(bench: Bench) -> None:
    m = measure_isn_predictability(bench.dut, bench.peer, bench.ip, bench.out)
    print(m.details)
    assert len(m.details["isns"]) == 8 and len(m.evidence.frames) == 8
    assert m.value is (bench.name != "linux-host")
    bench.judged_ok(m, UNJUDGED)


def test_offered_mss(bench: Bench) -> None:
    m = measure_offered_mss(bench.dut, bench.peer, bench.ip, bench.out)
    assert m.value == (1460 if bench.name == "linux-host" else 536)
    bench.judged_ok(m, UNJUDGED)
