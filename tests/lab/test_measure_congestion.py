"""The congestion response (CC-01 to CC-06, DT-04) against the Linux host DUT and the
lwIP board (ci-fast), each figure judged against the DUT's profile (pass or a documented
deviation), with every plot produced in the run folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.lab.up import logs_dir
from bench.measure.congestion import (
    measure_fast_retransmit,
    measure_rto_backoff,
    measure_slow_start,
)
from bench.measure.loss_sweep import measure_loss_sweep
from bench.measure.result import Measurement
from bench.verdict import Outcome
from tests.lab.judgekit import Bench, bench_for
from tests.lab.labkit import running_lab

DUTS = ["linux-host", "lwip-m3"]
PREFIX = "hg-"
ALLOWED_CC = Path("/proc/sys/net/ipv4/tcp_allowed_congestion_control")  # the host's; never changed


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix=PREFIX, duts=DUTS) as inv:
        yield inv


@pytest.fixture(params=DUTS)
def bench(lab: Inventory, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    with bench_for(lab, request.param, tmp_path) as b:
        yield b


def plots_written(m: Measurement, *names: str) -> None:
    files = [Path(f) for f in m.evidence.files]
    for name in names:
        for suffix in (".png", ".svg"):
            path = next(f for f in files if f.name == name + suffix)
            assert path.stat().st_size > 1000, path


def test_initial_window_and_slow_start(bench: Bench) -> None:
    m = measure_slow_start(bench.dut, bench.peer, bench.ip, bench.out)
    fig = bench.none_fail(m, "initial_window_segments", "initial_flight_segments")
    plots_written(m, "slow-start-time-sequence", "slow-start-cwnd")
    if bench.linux:
        assert m.value == 10 and fig["initial_window_bytes"].value == 10 * 1448
    else:  # cwnd 4 segments (2144 B), but TCP_SND_BUF (2 * 536) caps the flight at 2
        assert m.value == 4 and m.details["iw_basis"].startswith("dut_stat")
        assert fig["initial_flight_segments"].value == 2
        assert fig["initial_cwnd_reported_bytes"].value == 2144
        assert bench.verdicts(m)["initial_flight_segments"] is Outcome.DEVIATION
        assert "slow_start_growth_factor" not in fig  # send-buffer limited


def test_linux_initial_window_follows_initcwnd(lab: Inventory, tmp_path: Path) -> None:
    with bench_for(lab, "linux-host", tmp_path) as b:
        dut, peer = b.dut, b.peer
        m = measure_slow_start(dut, peer, b.ip, tmp_path, initcwnd=4,
                               settings={"tcp_congestion_control": "reno"})
        fig = b.none_fail(m, "initial_window_segments", "slow_start_growth_factor")
        assert m.value == 4 and m.details["settings"]["initcwnd"] == "4"
        assert fig["slow_start_growth_factor"].value == pytest.approx(2.0, abs=0.1)
        assert m.samples[:3] == [4, 8, 16]
        assert "initcwnd" not in dut.link() or dut.link()["initcwnd"] in ("0", "None")


@pytest.mark.parametrize("cc, factor", [("cubic", 0.7), ("reno", 0.5)])
def test_linux_fast_retransmit_and_reduction(lab: Inventory, tmp_path: Path,
                                             cc: str, factor: float) -> None:
    with bench_for(lab, "linux-host", tmp_path) as b:
        dut, peer = b.dut, b.peer
        m = measure_fast_retransmit(dut, peer, b.ip, tmp_path,
                                    settings={"tcp_congestion_control": cc})
        judged = ["fast_retransmit_dupacks", "fast_retransmit_delay_rtt", "cc_reduction_factor"]
        fig = b.none_fail(m, *judged, *(["ca_growth_segments_per_rtt"] if cc == "reno" else []))
        assert m.value == 3 and m.details["resend_kind"] == "fast"
        assert fig["cc_reduction_factor"].value == pytest.approx(factor, abs=0.05)
        assert m.details["reduction_basis"] == "wire"
        assert fig["spurious_retransmissions"].value == 0
        # the DUT's own view agrees with the wire: ssthresh = factor x cwnd at the loss
        loss = m.details["rounds"][m.details["loss_round"] - 1]
        after = m.details["rounds"][m.details["loss_round"]]
        assert after["ssthresh_reported_bytes"] / loss["cwnd_reported_bytes"] == \
            pytest.approx(factor, abs=0.03)
        assert dut.consts()["tcp_congestion_control"] == "bbr"  # restored
        plots_written(m, "fast-retransmit-time-sequence", "fast-retransmit-cwnd")


def test_lwip_fast_retransmit_reno_halving(lab: Inventory, tmp_path: Path) -> None:
    with bench_for(lab, "lwip-m3", tmp_path) as b:
        dut, peer = b.dut, b.peer
        m = measure_fast_retransmit(dut, peer, b.ip, tmp_path, ca_rounds=1, dupack_gap_s=0.1)
        fig = b.none_fail(m, "fast_retransmit_dupacks", "fast_retransmit_delay_rtt",
                          "cc_reduction_factor")
        assert m.value == 3 and m.details["resend_kind"] == "fast"
        # 2-segment flights (TCP_SND_BUF): the halving shows in the DUT's cwnd/ssthresh
        assert fig["cc_reduction_factor"].value == 0.5
        assert m.details["reduction_basis"].startswith("dut_stat")
        plots_written(m, "fast-retransmit-time-sequence", "fast-retransmit-cwnd")


def test_rto_backoff(bench: Bench) -> None:
    if bench.linux:  # give-up after tcp_model_timeout(4, 200 ms) = 6.2 s
        m = measure_rto_backoff(bench.dut, bench.peer, bench.ip, bench.out, wait_s=10,
                                settings={"tcp_retries2": 4})
    else:  # TCP_MAXRTX 12 would take minutes: the first three RTOs only; clocked
        # rounds first give lwIP RTT samples (else its first RTO is the initial 3 s)
        m = measure_rto_backoff(bench.dut, bench.peer, bench.ip, bench.out, wait_s=20,
                                flight_round=4, rto_count=3)
    judged = ["cwnd_after_rto_segments", "rto_backoff_factor"]
    fig = bench.none_fail(m, *judged, *(["rto_min_ms", "data_retries", "data_give_up_rst"]
                                        if bench.linux else []))
    assert m.value == 1
    if bench.linux:
        assert m.details["gave_up"] and m.details["error_code"] == "ETIMEDOUT"
        assert fig["data_give_up_rst"].value is False
    else:
        intervals = m.details["rto_intervals_s"]
        assert len(intervals) == 3 and 1.0 <= intervals[0] <= 3.5
    plots_written(m, "rto-time-sequence", "rto-cwnd")


def test_loss_sweep_short(bench: Bench) -> None:
    """CI's short sweep: p = 0 and 2 % (lwIP 5 %), five transfers each, 10 ms RTT."""
    control = Path(bench.inv.lab.state_dir) / f"impair-{bench.inv.lab.prefix}.sock"
    # lwIP sends 2 x 536 B per RTT: 10 KB transfers, and 5 % so that some of them lose one
    m = measure_loss_sweep(bench.dut, bench.peer, bench.ip, bench.out,
                           losses=(0.0, 0.02 if bench.linux else 0.05), reps=5,
                           nbytes=200_000 if bench.linux else 10_000, rtt_ms=10,
                           impair_control=str(control))
    bench.none_fail(m)
    points = m.details["points"]
    assert [len(p["goodputs_mbps"]) for p in points] == [5, 5]
    assert points[0]["retransmissions"] == [0] * 5 and sum(points[1]["retransmissions"]) > 0
    assert points[1]["mathis_mbps"] > 0 and points[1]["min_mbps"] < points[0]["median_mbps"]
    drops = [r for r in _impair_log(bench.inv) if r.get("action") == "dropped"]
    assert drops, "the bridge logged no drops"
    plots_written(m, "goodput-vs-loss")


def _impair_log(inv: Inventory) -> list[dict]:
    from bench.impair.eventlog import read_log
    return read_log(logs_dir(inv) / "impair-events.jsonl")
