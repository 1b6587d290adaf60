"""Plots of a run, written as PNG and SVG into the run folder (matplotlib, Agg backend).

Each function takes the oracle's trace or a measurement's data and returns a `Plot`:
the files written and the data series exactly as drawn (read back from the figure's
Line2D objects), so a test can check that a plot shows the trace and nothing else.

- `time_sequence`: tcptrace style: the DUT's data segments (first sends and resends),
  the peer's ACK line and receive-window line, SACK blocks, and marked drops (the peer's
  drop rules, or the impairment bridge's log through `impair_drops`).
- `cwnd_vs_reported`: the oracle's flight-based cwnd estimate against the cwnd the DUT
  reported on its console.
- `goodput_vs_loss`: goodput medians with their spread per loss rate, and the Mathis
  bound MSS/RTT * C/sqrt(p).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.model.oracle import ConnectionTrace  # noqa: E402

MATHIS_C = math.sqrt(3 / 2)
Series = tuple[list[float], list[float]]


@dataclass(frozen=True)
class Drop:
    """A segment lost on purpose: when it passed the capture point and its bytes."""

    time_ns: int
    rel_seq: int
    length: int
    why: str = ""


def impair_drops(records: Sequence[dict[str, Any]], trace: ConnectionTrace) -> list[Drop]:
    """The trace's DUT data segments the impairment bridge dropped, from its log
    (bench/impair eventlog: `action: dropped`, direction `to-bench`, the connection's
    ports): bridge receive time (CLOCK_REALTIME, as pcap times) and the segment's first
    byte relative to the DUT's ISN, as the graph's data rows."""
    if trace.dut_isn is None:
        return []
    return [Drop(int(r["t_ns"]), (int(r["seq"]) - trace.dut_isn) % (1 << 32),
                 int(r.get("len", 0)), f"impairment rule {r.get('rule', '')}".strip())
            for r in records
            if r.get("action") == "dropped" and r.get("dir") == "to-bench"
            and r.get("src_port") == trace.dut_port and r.get("dst_port") == trace.peer_port
            and int(r.get("len", 0)) > 0]


@dataclass
class Plot:
    files: list[Path]
    series: dict[str, Series] = field(default_factory=dict)


def _save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.png", out_dir / f"{name}.svg"]
    for path in paths:
        fig.savefig(path, dpi=120 if path.suffix == ".png" else None, bbox_inches="tight")
    plt.close(fig)
    return paths


def _drawn(fig: Figure) -> dict[str, Series]:
    """Every labelled line of the figure as (x, y), as matplotlib holds it."""
    out: dict[str, Series] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            label = str(line.get_label())
            if not label.startswith("_"):
                out[label] = ([float(x) for x in line.get_xdata()],
                              [float(y) for y in line.get_ydata()])
    return out


def _seconds(t_ns: int, t0_ns: int) -> float:
    return (t_ns - t0_ns) / 1e9


def time_sequence_series(trace: ConnectionTrace, drops: Sequence[Drop] = ()
                         ) -> dict[str, Series]:
    """What the time-sequence graph draws, from the trace alone: x in s from the first
    row, y in bytes relative to the DUT's ISN (data: the segment's first byte)."""
    t0 = trace.rows[0].time_ns if trace.rows else 0
    tx = [r for r in trace.rows if r.direction == "tx" and r.payload_bytes]
    rx = [r for r in trace.rows if r.direction == "rx" and "A" in r.flags]
    series: dict[str, Series] = {
        "data": ([_seconds(r.time_ns, t0) for r in tx if not r.retransmission],
                 [float(r.rel_seq) for r in tx if not r.retransmission]),
        "retransmission": ([_seconds(r.time_ns, t0) for r in tx if r.retransmission],
                           [float(r.rel_seq) for r in tx if r.retransmission]),
        "ack": ([_seconds(r.time_ns, t0) for r in rx], [float(r.rel_ack) for r in rx]),
        "receive window": ([_seconds(r.time_ns, t0) for r in rx],
                           [float(r.rel_ack + r.window_bytes) for r in rx]),
    }
    sack = [(r, block) for r in rx for block in r.sack_blocks]
    if sack:
        series["sack"] = ([_seconds(r.time_ns, t0) for r, _ in sack],
                          [float(b[0]) for _, b in sack])
    if drops:
        series["drop"] = ([_seconds(d.time_ns, t0) for d in drops],
                          [float(d.rel_seq) for d in drops])
    return series


def time_sequence(trace: ConnectionTrace, out_dir: Path, name: str = "time-sequence",
                  drops: Sequence[Drop] = (), title: str = "") -> Plot:
    """The tcptrace-style time-sequence graph of one connection (the DUT sending)."""
    s = time_sequence_series(trace, drops)
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.step(*s["ack"], where="post", color="tab:green", linewidth=1, label="ack")
    ax.step(*s["receive window"], where="post", color="tab:olive", linewidth=1,
            label="receive window")
    ax.plot(*s["data"], linestyle="none", marker="|", markersize=8, color="tab:blue",
            label="data")
    ax.plot(*s["retransmission"], linestyle="none", marker="|", markersize=10,
            color="tab:red", label="retransmission")
    if "sack" in s:
        ax.plot(*s["sack"], linestyle="none", marker="_", markersize=8,
                color="tab:purple", label="sack")
    if "drop" in s:
        ax.plot(*s["drop"], linestyle="none", marker="x", markersize=8, color="black",
                label="drop")
    top = max(s["data"][1] + s["retransmission"][1] + s["ack"][1] + [1.0])
    ax.set_ylim(0, top * 1.15)  # a large window would squash the data: it runs off the top
    ax.set_xlabel("time (s)")
    ax.set_ylabel("sequence offset (bytes from the DUT's ISN)")
    ax.set_title(title or f"time-sequence {trace.peer_ip}:{trace.peer_port} <- "
                          f"DUT port {trace.dut_port}")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(True, alpha=0.3)
    series = _drawn(fig)
    return Plot(_save(fig, out_dir, name), series)


def cwnd_series(trace: ConnectionTrace, reported: Sequence[tuple[int, int]] = ()
                ) -> dict[str, Series]:
    """The oracle's cwnd estimate at each DUT data segment, and the DUT's own samples
    (kernel-time, bytes), x in s from the trace's first row."""
    t0 = trace.rows[0].time_ns if trace.rows else 0
    tx = [r for r in trace.rows if r.direction == "tx" and r.payload_bytes]
    out: dict[str, Series] = {
        "cwnd estimate (wire)": ([_seconds(r.time_ns, t0) for r in tx],
                                 [float(r.cwnd_estimate_bytes) for r in tx])}
    if reported:
        out["cwnd reported (DUT)"] = ([_seconds(t, t0) for t, _ in reported],
                                      [float(c) for _, c in reported])
    return out


def cwnd_vs_reported(trace: ConnectionTrace, reported: Sequence[tuple[int, int]],
                     out_dir: Path, name: str = "cwnd", title: str = "") -> Plot:
    """The wire's cwnd estimate against the cwnd the DUT reported (console `stat`)."""
    s = cwnd_series(trace, reported)
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.step(*s["cwnd estimate (wire)"], where="post", color="tab:blue",
            label="cwnd estimate (wire)")
    if "cwnd reported (DUT)" in s:
        ax.plot(*s["cwnd reported (DUT)"], linestyle="none", marker="o", color="tab:orange",
                label="cwnd reported (DUT)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("bytes")
    ax.set_title(title or "congestion window: wire estimate vs the DUT's report")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(True, alpha=0.3)
    series = _drawn(fig)
    return Plot(_save(fig, out_dir, name), series)


def mathis_mbps(mss_bytes: int, rtt_s: float, loss: float) -> float:
    """The Mathis et al. bound MSS/RTT * C/sqrt(p) in Mbit/s (infinite at p = 0)."""
    if loss <= 0:
        return math.inf
    return mss_bytes * 8 / rtt_s * MATHIS_C / math.sqrt(loss) / 1e6


def goodput_vs_loss(points: Sequence[tuple[float, Sequence[float]]], mss_bytes: int,
                    rtt_s: float, out_dir: Path, name: str = "goodput-vs-loss",
                    title: str = "") -> Plot:
    """Goodput (Mbit/s) per loss rate `p` (a fraction): median with min-max bars, and
    the Mathis curve for the same MSS and RTT (log-log; p = 0 is drawn at the left)."""
    losses = [p for p, _ in points]
    shown = [p if p > 0 else min([q for q in losses if q > 0] or [1e-4]) / 10 for p in losses]
    medians = [_median(list(v)) for _, v in points]
    lows = [m - min(v) for m, (_, v) in zip(medians, points, strict=True)]
    highs = [max(v) - m for m, (_, v) in zip(medians, points, strict=True)]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.errorbar(shown, medians, yerr=[lows, highs], fmt="none", ecolor="tab:blue",
                capsize=4)
    ax.plot(shown, medians, "o-", color="tab:blue", label="goodput (median, min-max)")
    curve_p = sorted({p for p in losses if p > 0})
    if curve_p:
        lo, hi = curve_p[0], curve_p[-1]
        grid = [lo * (hi / lo) ** (i / 49) for i in range(50)] if hi > lo else [lo]
        ax.plot(grid, [mathis_mbps(mss_bytes, rtt_s, p) for p in grid], color="tab:red",
                linestyle="--", label=f"Mathis bound (MSS {mss_bytes} B, RTT "
                                      f"{rtt_s * 1000:g} ms)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("loss probability p (p = 0 drawn at the left edge)")
    ax.set_ylabel("goodput (Mbit/s)")
    ax.set_title(title or "goodput against random loss")
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    series = _drawn(fig)
    return Plot(_save(fig, out_dir, name), series)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
