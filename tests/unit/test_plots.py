"""The plots draw exactly the trace's data: each series read back from the figure's
Line2D objects equals what the oracle's rows (or the measurement data) say."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.model.oracle import ConnectionTrace, TraceRow
from bench.model.states import State
from bench.report import plots


def row(t_ms: float, direction: str, seq: int = 1, ack: int = 1, length: int = 0,
        window: int = 65535, rtx: bool = False, sack: tuple = (), cwnd: int = 0) -> TraceRow:
    return TraceRow(time_ns=1_000_000_000 + int(t_ms * 1e6), frame_no=0,
                    direction=direction, flags="A", rel_seq=seq, rel_ack=ack,
                    payload_bytes=length, window_bytes=window, options=("ts",),
                    sack_blocks=sack, retransmission=rtx,
                    retransmission_kind="fast" if rtx else "", out_of_order=False,
                    dup_ack=False, dup_ack_count=0, bytes_in_flight=0,
                    cwnd_estimate_bytes=cwnd, dut_state=State.ESTABLISHED)


@pytest.fixture
def trace() -> ConnectionTrace:
    rows = [
        row(0, "tx", seq=1, length=1000, cwnd=1000),
        row(0.1, "tx", seq=1001, length=1000, cwnd=2000),  # lost
        row(0.2, "tx", seq=2001, length=1000, cwnd=3000),
        row(1.0, "rx", ack=1001, window=8000),
        row(1.1, "rx", ack=1001, window=8000, sack=((2001, 3001),)),
        row(1.2, "tx", seq=1001, length=1000, rtx=True, cwnd=2000),
        row(2.0, "rx", ack=3001, window=6000),
    ]
    return ConnectionTrace(7011, "192.0.2.2", 40000, rows=rows)


def test_time_sequence_draws_the_trace(trace: ConnectionTrace, tmp_path: Path) -> None:
    drop = plots.Drop(trace.rows[1].time_ns, 1001, 1000, "peer drop rule")
    plot = plots.time_sequence(trace, tmp_path, drops=[drop])
    assert [p.suffix for p in plot.files] == [".png", ".svg"]
    assert all(p.stat().st_size > 0 for p in plot.files)
    t0 = trace.rows[0].time_ns
    sec = [(r.time_ns - t0) / 1e9 for r in trace.rows]
    s = plot.series
    assert s["data"] == ([sec[0], sec[1], sec[2]], [1.0, 1001.0, 2001.0])
    assert s["retransmission"] == ([sec[5]], [1001.0])
    assert s["ack"] == ([sec[3], sec[4], sec[6]], [1001.0, 1001.0, 3001.0])
    assert s["receive window"] == ([sec[3], sec[4], sec[6]], [9001.0, 9001.0, 9001.0])
    assert s["sack"] == ([sec[4]], [2001.0])
    assert s["drop"] == ([sec[1]], [1001.0])
    assert s == plots.time_sequence_series(trace, [drop])


def test_cwnd_plot_draws_estimate_and_report(trace: ConnectionTrace, tmp_path: Path) -> None:
    t0 = trace.rows[0].time_ns
    reported = [(t0 + 500_000, 2000), (t0 + 1_500_000, 1500)]
    plot = plots.cwnd_vs_reported(trace, reported, tmp_path)
    tx = [r for r in trace.rows if r.direction == "tx"]
    assert plot.series["cwnd estimate (wire)"] == (
        [(r.time_ns - t0) / 1e9 for r in tx], [float(r.cwnd_estimate_bytes) for r in tx])
    assert plot.series["cwnd reported (DUT)"] == ([0.0005, 0.0015], [2000.0, 1500.0])
    assert {p.name for p in plot.files} == {"cwnd.png", "cwnd.svg"}


def test_goodput_plot_draws_medians_and_mathis(tmp_path: Path) -> None:
    points = [(0.0, [9.0, 10.0, 11.0]), (0.01, [1.0, 2.0, 4.0]), (0.05, [0.5, 0.6, 0.7])]
    plot = plots.goodput_vs_loss(points, 1448, 0.02, tmp_path)
    x, y = plot.series["goodput (median, min-max)"]
    assert y == [10.0, 2.0, 0.6]
    assert x[1:] == [0.01, 0.05] and x[0] < 0.01  # p = 0 drawn at the left edge
    label = next(k for k in plot.series if k.startswith("Mathis"))
    px, py = plot.series[label]
    assert px[0] == pytest.approx(0.01) and px[-1] == pytest.approx(0.05)
    for p, bound in zip(px, py, strict=True):
        assert bound == pytest.approx(1448 * 8 / 0.02 * math.sqrt(1.5) / math.sqrt(p) / 1e6)


def test_mathis_bound() -> None:
    assert plots.mathis_mbps(1460, 0.1, 0.01) == pytest.approx(1.4306, rel=1e-3)
    assert plots.mathis_mbps(1460, 0.1, 0.0) == math.inf


def test_impair_log_drops_are_marked(trace: ConnectionTrace, tmp_path: Path) -> None:
    """A burst the bridge dropped: the graph's drop series is the log's records of this
    connection's DUT data (time, seq - ISN), nothing else."""
    trace.dut_isn = 4_294_967_000  # the sequence space wraps inside the burst
    t0 = trace.rows[0].time_ns
    burst = [(t0 + 100_000 + i * 10_000, (trace.dut_isn + 1001 + i * 1000) % (1 << 32))
             for i in range(3)]
    records = [{"t_ns": t, "dir": "to-bench", "src_port": 7011, "dst_port": 40000,
                "seq": seq, "len": 1000, "rule": "burst", "action": "dropped"}
               for t, seq in burst]
    others = [
        {"event": "rules", "t_ns": t0},  # bridge record
        {**records[0], "action": "delayed"},  # not a drop
        {**records[0], "dst_port": 40001},  # another connection
        {**records[0], "dir": "to-dut", "src_port": 40000, "dst_port": 7011},  # peer's
        {**records[0], "len": 0},  # a pure ACK of the DUT
    ]
    drops = plots.impair_drops(others[:2] + records + others[2:], trace)
    assert [(d.time_ns, d.rel_seq, d.length) for d in drops] == [
        (t, 1001 + i * 1000, 1000) for i, (t, _) in enumerate(burst)]
    plot = plots.time_sequence(trace, tmp_path, "burst", drops=drops)
    assert plot.series["drop"] == ([(t - t0) / 1e9 for t, _ in burst], [1001.0, 2001.0, 3001.0])
