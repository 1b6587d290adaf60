"""Data transfer, header robustness, resets and UDP (DT-01, DT-02, DT-03, DT-08, RS-01,
RS-02, UD-01, UD-02, UD-03) against the Linux host DUT and the lwIP board (ci-fast):
the figures checked, and each judged against the DUT's profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.measure.reset import measure_abort_rst, measure_rst_handling
from bench.measure.result import Measurement
from bench.measure.robustness import (
    measure_bad_checksum,
    measure_duplicate_segment,
    measure_header_robustness,
    measure_seq_accounting,
)
from bench.measure.udp import measure_udp_bad_checksum, measure_udp_closed_port, measure_udp_echo
from tests.lab.judgekit import Bench, bench_for
from tests.lab.labkit import running_lab

DUTS = ["linux-host", "lwip-m3"]
PREFIX = "hx-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix=PREFIX, duts=DUTS) as inv:
        yield inv


@pytest.fixture(params=DUTS)
def bench(lab: Inventory, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    with bench_for(lab, request.param, tmp_path) as b:
        yield b


def figures(m: Measurement) -> dict[str, object]:
    return {f.name: f.value for f in m.figures()}


# ----------------------------------------------------------------------- DT
def test_seq_accounting(bench: Bench) -> None:
    m = measure_seq_accounting(bench.dut, bench.peer, bench.ip, bench.out)
    print(m.details)
    assert m.details["echo_intact"] and m.details["data_segments_checked"] > 5
    assert figures(m) == {"seq_counts_bytes": True, "ack_cumulative": True}
    assert m.details["last_ack_rel"] == m.details["nbytes"] + 1
    bench.judged_ok(m)


def test_bad_checksum(bench: Bench) -> None:
    m = measure_bad_checksum(bench.dut, bench.peer, bench.ip, bench.out)
    assert figures(m) == {"bad_checksum_dropped": True, "bad_checksum_delivered_bytes": 0}
    assert m.details["replies_to_bad"] == []
    assert m.details["control_delivered_bytes"] == 100 and m.details["control_rx_bad"] == 0
    bench.judged_ok(m)


def test_duplicate_segment(bench: Bench) -> None:
    m = measure_duplicate_segment(bench.dut, bench.peer, bench.ip, bench.out)
    assert figures(m) == {"duplicate_acked": True, "duplicate_delivered_once": True}
    assert m.details["dsack"] is bench.linux  # lwIP 2.1.3 sends no D-SACK
    bench.judged_ok(m)


def test_header_robustness(bench: Bench) -> None:
    m = measure_header_robustness(bench.dut, bench.peer, bench.ip, bench.out)
    print(m.details)
    assert figures(m) == {"header_robustness_survives": True,
                          "bad_data_offset_dropped": True}
    cases = m.details["cases"]
    assert len(cases) == 6 and all(c["state"] == "ESTABLISHED" for c in cases.values())
    bench.judged_ok(m)


# ----------------------------------------------------------------------- RS
def test_rst_handling(bench: Bench) -> None:
    m = measure_rst_handling(bench.dut, bench.peer, bench.ip, bench.out)
    print(m.details)
    assert figures(m) == {"rst_in_window_aborts": True, "rst_out_of_window_ignored": True,
                          "rst_challenge_ack": True}
    assert "ECONNRESET" in (m.details["error_event"] or "")
    bench.judged_ok(m)


def test_abort_sends_rst(bench: Bench) -> None:
    m = measure_abort_rst(bench.dut, bench.peer, bench.ip, bench.out)
    assert m.value is True and m.details["rst_seq_ok"]
    bench.judged_ok(m)


# ----------------------------------------------------------------------- UD
def test_udp_echo(bench: Bench) -> None:
    m = measure_udp_echo(bench.dut, bench.peer, bench.ip, bench.out)
    print(m.details)
    assert m.value is True and m.details["replies_total"] == 5
    assert m.details["dut_rx_dgrams"] == m.details["dut_tx_dgrams"] == 5
    bench.judged_ok(m)


def test_udp_bad_checksum(bench: Bench) -> None:
    m = measure_udp_bad_checksum(bench.dut, bench.peer, bench.ip, bench.out)
    assert figures(m) == {"udp_bad_checksum_dropped": True, "udp_bad_checksum_delivered": 0}
    assert m.details["control_delivered"] == 1
    bench.judged_ok(m)


def test_udp_closed_port(bench: Bench) -> None:
    m = measure_udp_closed_port(bench.dut, bench.peer, bench.ip, bench.out)
    assert m.value is True and m.details["icmp"] == "type 3 code 3"
    assert len(m.evidence.frames) == 2
    bench.judged_ok(m)
