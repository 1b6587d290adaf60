"""The congestion response (CC-01 to CC-06, DT-04) against the Linux host DUT and the
lwIP board in its three builds (ci-fast, stock, tuned), each figure judged against the
DUT's profile (pass or a documented deviation), with every plot produced in the run
folder. Boards run their experiments at the same time (tests/lab/duts_at_once.py);
each measurement gets the options of the DUT's profile (`measure:`), as the Robot
suites do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.impair.eventlog import read_log
from bench.inventory import Inventory
from bench.lab.up import impair_socket, logs_dir
from bench.measure.burst_loss import measure_burst_loss
from bench.measure.congestion import (
    measure_fast_retransmit,
    measure_rto_backoff,
    measure_slow_start,
)
from bench.measure.loss_sweep import measure_loss_sweep
from bench.measure.result import Measurement
from bench.profiles import load_profile
from bench.verdict import Outcome
from tests.lab.duts_at_once import on_each
from tests.lab.judgekit import Bench, bench_for
from tests.lab.labkit import running_lab

LINUX = "linux-host"
LWIP = ["lwip-m3", "lwip-m3-stock", "lwip-m3-tuned"]  # ci-fast, stock, tuned builds
DUTS = [LINUX, *LWIP]
PREFIX = "hv-"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix=PREFIX, duts=DUTS) as inv:
        yield inv


def options(bench: Bench, measurement: str, **extra: Any) -> dict[str, Any]:
    """The DUT's profile options for `measurement` (what the Robot suites pass)."""
    profile = load_profile(bench.inv.dut(bench.name).profile)
    return {**profile.options_for(measurement), **extra}


def plots_written(m: Measurement, *names: str) -> None:
    files = [Path(f) for f in m.evidence.files]
    for name in names:
        for suffix in (".png", ".svg"):
            path = next(f for f in files if f.name == name + suffix)
            assert path.stat().st_size > 1000, path


def lwip_initial_cwnd(mss: int) -> int:
    """tcp_in.c:69 LWIP_TCP_CALC_INITIAL_CWND(mss) = min(4*mss, max(2*mss, 4380))."""
    return min(4 * mss, max(2 * mss, 4380))


def test_initial_window_and_slow_start(lab: Inventory, tmp_path: Path) -> None:
    def check(bench: Bench) -> None:
        m = measure_slow_start(bench.dut, bench.peer, bench.ip, bench.out,
                               **options(bench, "slow_start"))
        fig = bench.none_fail(m, "initial_window_segments", "initial_flight_segments")
        plots_written(m, "slow-start-time-sequence", "slow-start-cwnd")
        if bench.linux:
            assert m.value == 10 and fig["initial_window_bytes"].value == 10 * 1448
            return
        mss = int(bench.dut.consts()["TCP_MSS"])  # peer MSS 1460, link MTU 1500: TCP_MSS
        iw = lwip_initial_cwnd(mss)
        assert fig["initial_cwnd_reported_bytes"].value == iw
        assert m.value == iw // mss  # stock and ci-fast 4 x 536, tuned 3 x 1460
        if bench.name == "lwip-m3-tuned":  # the first flight is the window, then doubles
            assert m.details["iw_basis"] == "wire"
            assert fig["initial_window_bytes"].value == iw
            assert fig["slow_start_growth_factor"].value == pytest.approx(2.0, abs=0.2)
            assert bench.verdicts(m)["initial_flight_segments"] is Outcome.PASS
        else:  # TCP_SND_BUF (2 x 536) caps the flight at 2: the cwnd comes from `stat`
            assert m.details["iw_basis"].startswith("dut_stat")
            assert fig["initial_flight_segments"].value == 2
            assert bench.verdicts(m)["initial_flight_segments"] is Outcome.DEVIATION
            assert "slow_start_growth_factor" not in fig  # send-buffer limited

    on_each(lab, DUTS, tmp_path, check)


def test_linux_initial_window_follows_initcwnd(lab: Inventory, tmp_path: Path) -> None:
    with bench_for(lab, LINUX, tmp_path) as b:
        dut, peer = b.dut, b.peer
        m = measure_slow_start(dut, peer, b.ip, tmp_path, initcwnd=4,
                               settings={"tcp_congestion_control": "reno"})
        fig = b.none_fail(m, "initial_window_segments", "slow_start_growth_factor")
        assert m.value == 4 and m.details["settings"]["initcwnd"] == "4"
        assert fig["slow_start_growth_factor"].value == pytest.approx(2.0, abs=0.1)
        assert m.samples[:3] == [4, 8, 16]
        assert "initcwnd" not in dut.link() or dut.link()["initcwnd"] in ("0", "None")


def within_one_rtt(m: Measurement, fig: dict[str, Measurement]) -> None:
    """The resend follows the third duplicate ACK within one RTT, the RTT being the
    DUT's own segment-to-ACK time on the wire (its reported estimate, where it has a
    fine one, agrees)."""
    d = m.details
    ratio = fig["fast_retransmit_delay_rtt"]
    assert ratio.value <= 1.0 + ratio.tolerance.abs, d  # type: ignore[operator]
    assert fig["fast_retransmit_delay_ms"].value == pytest.approx(
        ratio.value * d["rtt_ms"], abs=0.01)  # type: ignore[operator]
    assert len(d["rtt_samples_ms"]) >= 2 and min(d["rtt_samples_ms"]) > 0


@pytest.mark.parametrize("cc, factor", [("cubic", 0.7), ("reno", 0.5)])
def test_linux_fast_retransmit_and_reduction(lab: Inventory, tmp_path: Path,
                                             cc: str, factor: float) -> None:
    with bench_for(lab, LINUX, tmp_path) as b:
        dut, peer = b.dut, b.peer
        m = measure_fast_retransmit(dut, peer, b.ip, tmp_path,
                                    settings={"tcp_congestion_control": cc})
        judged = ["fast_retransmit_dupacks", "fast_retransmit_delay_rtt", "cc_reduction_factor"]
        fig = b.none_fail(m, *judged, *(["ca_growth_segments_per_rtt"] if cc == "reno" else []))
        assert m.value == 3 and m.details["resend_kind"] == "fast"
        within_one_rtt(m, fig)
        # tcpi_rtt (the kernel's srtt, whole ms) agrees with the wire's RTT
        assert float(m.details["dut_rtt_ms"]) == pytest.approx(m.details["rtt_ms"], rel=0.25)
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
    def check(bench: Bench) -> None:
        m = measure_fast_retransmit(bench.dut, bench.peer, bench.ip, bench.out,
                                    **options(bench, "fast_retransmit"))
        fig = bench.none_fail(m, "fast_retransmit_dupacks", "fast_retransmit_delay_rtt",
                              "cc_reduction_factor")
        assert m.value == 3 and m.details["resend_kind"] == "fast"
        within_one_rtt(m, fig)
        # Reno: ssthresh = cwnd / 2 at the fast retransmit (tcp_out.c tcp_rexmit_fast())
        loss = m.details["rounds"][m.details["loss_round"] - 1]
        after = m.details["rounds"][m.details["loss_round"]]
        assert abs(after["ssthresh_reported_bytes"] * 2 - loss["cwnd_reported_bytes"]) <= 1
        if bench.name == "lwip-m3-tuned":  # cwnd-limited flights: the halving on the wire
            assert m.details["reduction_basis"] == "wire"
            flight = loss["segments"]
            assert fig["cc_reduction_factor"].value == pytest.approx(0.5, abs=1.01 / flight)
            assert fig["ca_growth_segments_per_rtt"].value == 1
        else:  # 2-segment flights (TCP_SND_BUF): the halving shows in cwnd/ssthresh
            assert fig["cc_reduction_factor"].value == 0.5
            assert m.details["reduction_basis"].startswith("dut_stat")
        plots_written(m, "fast-retransmit-time-sequence", "fast-retransmit-cwnd")

    on_each(lab, LWIP, tmp_path, check)


def test_rto_backoff(lab: Inventory, tmp_path: Path) -> None:
    def check(bench: Bench) -> None:
        # Linux: give-up after tcp_model_timeout(4, 200 ms) = 6.2 s; lwIP: TCP_MAXRTX 12
        # would take minutes, so the first three RTOs only, after clocked rounds that
        # give lwIP RTT samples (else its first RTO is the initial 3 s)
        m = measure_rto_backoff(bench.dut, bench.peer, bench.ip, bench.out,
                                **options(bench, "rto_backoff"))
        judged = ["cwnd_after_rto_segments", "rto_backoff_factor"]
        fig = bench.none_fail(m, *judged, *(["rto_min_ms", "data_retries",
                                             "data_give_up_rst"] if bench.linux else []))
        assert m.value == 1
        if bench.linux:
            assert m.details["gave_up"] and m.details["error_code"] == "ETIMEDOUT"
            assert fig["data_give_up_rst"].value is False
        else:
            intervals = m.details["rto_intervals_s"]
            assert len(intervals) == 3 and 1.0 <= intervals[0] <= 3.5
        plots_written(m, "rto-time-sequence", "rto-cwnd")

    on_each(lab, [LINUX, "lwip-m3"], tmp_path, check)


@pytest.mark.parametrize("name", [LINUX, "lwip-m3"])
def test_loss_sweep_short(lab: Inventory, tmp_path: Path, name: str) -> None:
    """CI's short sweep with the profile's options: p = 0 and 2 % (lwIP 5 %), five
    transfers each at a 10 ms RTT; the goodput judged against the Mathis bound."""
    control = impair_socket(lab)
    with bench_for(lab, name, tmp_path) as bench:
        # Linux: reno, 1 MB; lwIP sends 2 x 536 B per RTT: 10 KB, 5 % so that some lose one
        m = measure_loss_sweep(bench.dut, bench.peer, bench.ip, bench.out,
                               **options(bench, "loss_sweep", impair_control=str(control)))
        fig = bench.none_fail(m, "goodput_mathis_ratio")
    points = m.details["points"]
    assert [len(p["goodputs_mbps"]) for p in points] == [5, 5]
    assert points[0]["retransmissions"] == [0] * 5 and sum(points[1]["retransmissions"]) > 0
    assert points[1]["mathis_mbps"] > 0 and points[1]["min_mbps"] < points[0]["median_mbps"]
    assert fig["goodput_mathis_ratio"].value == [points[1]["ratio_to_mathis"]]
    if bench.linux:
        assert m.details["settings"] == {"tcp_congestion_control": "reno"}
    drops = [r for r in read_log(logs_dir(lab) / "impair-events.jsonl")
             if r.get("action") == "dropped"]
    assert drops, "the bridge logged no drops"
    plots_written(m, "goodput-vs-loss")


def test_burst_loss_marked_on_the_time_sequence_graph(lab: Inventory, tmp_path: Path) -> None:
    """Three consecutive segments dropped by the impairment bridge: the DUT repairs
    them (Linux by NewReno partial ACKs, lwIP tuned by fast retransmit then its RTO),
    and the graph marks exactly the drops the bridge logged."""
    control = impair_socket(lab)
    log = logs_dir(lab) / "impair-events.jsonl"

    def check(bench: Bench) -> None:
        m = measure_burst_loss(bench.dut, bench.peer, bench.ip, bench.out,
                               **options(bench, "burst_loss", impair_control=str(control)))
        bench.none_fail(m, "burst_loss_recovered")
        assert m.value is True, m.details
        d = m.details
        # the log's own records of this connection, read here independently
        mine = [r for r in read_log(log) if r.get("action") == "dropped"
                and r.get("dir") == "to-bench" and r.get("src_port") == d["port"]
                and r.get("dst_port") == d["peer_port"]]
        assert len(mine) == 3
        assert [x["t_ns"] for x in d["drops"]] == [r["t_ns"] for r in mine]
        assert [x["len"] for x in d["drops"]] == [r["len"] for r in mine]
        if bench.linux:  # NewReno: each lost segment resent once, nothing else
            assert [r["rel_seq"] for r in d["resends"]] == d["lost_rel_seq"]
        else:  # tcp_rexmit_rto(): go-back-N resends some the peer already had
            assert set(d["lost_rel_seq"]) <= {r["rel_seq"] for r in d["resends"]}
        plots_written(m, "burst-loss-time-sequence")

    on_each(lab, [LINUX, "lwip-m3-tuned"], tmp_path, check)
