"""Goodput under random loss (CC-06): a sweep against the Mathis bound.

For each loss probability p the impairment bridge drops the DUT's data segments at
random (stage `select: random` on the to-bench direction) behind a fixed delay stage
(half the RTT each way); the DUT sends `nbytes` to the reference peer, which ACKs as
an RFC receiver. Goodput = bytes / (the peer's ACK of the last byte - the DUT's first
data segment), both kernel timestamps from the oracle's trace. Each point is repeated
`reps` times (median and spread) and set against MSS/RTT * C/sqrt(p), C = sqrt(3/2).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.impair import control
from bench.lock import ResourceLock
from bench.measure.handshake import dut_settings, pcap_path
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import ConnOptions, Peer
from bench.model.oracle import ConnectionTrace, analyse
from bench.report.plots import goodput_vs_loss, mathis_mbps
from firmware_adapters.dut import Dut

LOSSES = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05)


def impairment_rules(loss: float, rtt_ms: float, seed: int,
                     dut_ip: str = "0.0.0.0/0") -> dict[str, Any]:
    """Random drops of the DUT's data behind a delay of half the RTT each way; only the
    DUT's own packets are touched (other DUTs share the bridge)."""
    to_dut = {"match": {"dst_net": dut_ip}, "action": {"kind": "delay",
                                                       "delay_ms": rtt_ms / 2}, "log": "none"}
    from_dut = {"match": {"src_net": dut_ip}, "action": {"kind": "delay",
                                                         "delay_ms": rtt_ms / 2}, "log": "none"}
    to_bench: list[dict[str, Any]] = [from_dut]
    if loss > 0:
        to_bench.insert(0, {"match": {"proto": "tcp", "payload_min_bytes": 1,
                                      "src_net": dut_ip},
                            "select": {"kind": "random", "probability": loss},
                            "action": {"kind": "drop"}, "log": "drops"})
    return {"seed": seed, "to-dut": [to_dut], "to-bench": to_bench}


@contextmanager
def bridge_taken(impair_control: str | None, wait_s: float) -> Iterator[Path]:
    """The bridge's control socket, held for this measurement alone: DUTs measured in
    parallel share one bridge and one rule set, so they take it in turns (a waiting
    flock, released when the measurement ends). `hilbench measure` and the Robot
    library pass the lab's own socket (`bench.lab.up.impair_socket`)."""
    if not impair_control:
        raise ValueError("this measurement needs the impairment bridge: pass "
                         "impair_control=<the lab's bridge control socket>")
    sock = Path(impair_control)
    bridge = ResourceLock(f"impair-{sock.name}", label=f"the impairment bridge {sock}")
    bridge.acquire_within(wait_s)
    try:
        yield sock
    finally:
        bridge.release()


def one_transfer(dut: Dut, peer: Peer, dut_ip: str, port: int, nbytes: int,
                 timeout_s: float) -> tuple[int, str]:
    """The DUT (listening on `port`) sends `nbytes` to the peer; returns the peer's
    local port and the console line of `EVT sent`."""
    conn = peer.connect(dut_ip, port, options=ConnOptions(window_bytes=4 << 20))
    lport = conn.local[1]
    accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
    cid = int(accepted.fields["id"])
    dut.send(cid, nbytes)
    sent = dut.wait_event("sent", timeout_s, id=str(cid))
    conn.recv_exactly(nbytes, timeout_s)
    conn.abort()
    return lport, sent.raw


def goodput_mbps(trace: ConnectionTrace, nbytes: int) -> tuple[float, list[int]]:
    """nbytes over the time from the DUT's first data segment to the ACK of its last
    byte (kernel timestamps); also the two frames."""
    data = [r for r in trace.rows if r.direction == "tx" and r.payload_bytes]
    first = data[0]
    end = next(r for r in trace.rows if r.direction == "rx" and r.rel_ack >= nbytes + 1)
    seconds = (end.time_ns - first.time_ns) / 1e9
    return round(nbytes * 8 / seconds / 1e6, 4), [first.frame_no, end.frame_no]


def measure_loss_sweep(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                       losses: tuple[float, ...] = LOSSES, reps: int = 5,
                       nbytes: int = 1_000_000, rtt_ms: float = 20.0, port: int = 7013,
                       impair_control: str | None = None, seed: int = 7,
                       timeout_s: float = 120.0,
                       settings: dict[str, Any] | None = None) -> Measurement:
    """value = median goodput (Mbit/s) per loss probability in `losses` (fractions);
    related: goodput_mathis_ratio (median / bound per p > 0). `impair_control` is the
    bridge's control socket."""
    points: list[dict[str, Any]] = []
    frames: list[int] = []
    lines: list[str] = []
    mss = 0
    with bridge_taken(impair_control, timeout_s * len(losses) * reps) as sock, \
            dut_settings(dut, settings) as applied:
        lid = dut.listen(port, mode="discard")
        try:
            for i, loss in enumerate(losses):
                control.request(sock, {"op": "set",
                                       "rules": impairment_rules(loss, rtt_ms, seed + i,
                                                                 f"{dut_ip}/32")})
                runs = []
                for _ in range(reps):
                    lport, line = one_transfer(dut, peer, dut_ip, port, nbytes, timeout_s)
                    lines.append(line)
                    runs.append(lport)
                shown = control.request(sock, {"op": "show"})
                points.append({"loss": loss, "lports": runs, "bridge": shown.get("stages")})
        finally:
            control.request(sock, {"op": "clear"})
            dut.unlisten(lid)
    path = pcap_path(peer)
    assert path is not None, "the peer records no pcap"
    traces = {c.peer_port: c for c in analyse(path, dut_ip).connections if c.dut_port == port}
    for point in points:
        goodputs, rtx = [], []
        for lport in point.pop("lports"):
            trace = traces[lport]
            value, fr = goodput_mbps(trace, nbytes)
            goodputs.append(value)
            frames += fr
            rtx.append(trace.retransmissions)
            mss = max([mss] + [r.payload_bytes for r in trace.rows if r.direction == "tx"])
        point.update(goodputs_mbps=goodputs, median_mbps=statistics.median(goodputs),
                     min_mbps=min(goodputs), max_mbps=max(goodputs), retransmissions=rtx)
    for point in points:
        bound = mathis_mbps(mss, rtt_ms / 1000, point["loss"])
        point["mathis_mbps"] = round(bound, 4) if bound != float("inf") else None
        point["ratio_to_mathis"] = (round(point["median_mbps"] / bound, 4)
                                    if point["mathis_mbps"] else None)
    plot = goodput_vs_loss([(p["loss"], p["goodputs_mbps"]) for p in points], mss,
                           rtt_ms / 1000, Path(pcap_dir), "goodput-vs-loss",
                           f"{dut.name}: goodput against random loss, RTT {rtt_ms:g} ms")
    spread = max((p["max_mbps"] - p["min_mbps"]) / 2 for p in points) if points else 0.0
    details: dict[str, Any] = {
        "points": points, "mss_bytes": mss, "rtt_ms": rtt_ms, "reps": reps,
        "nbytes": nbytes, "mathis_c": round(1.5 ** 0.5, 4), "settings": applied,
        "impair_control": str(sock), "port": port,
    }
    m = Measurement(
        name="goodput_mbps", dut=dut.name, value=[p["median_mbps"] for p in points],
        unit="Mbit/s", behaviours=["CC-06"], samples=[g for p in points
                                                      for g in p["goodputs_mbps"]],
        tolerance=Tolerance(abs=round(spread, 4), why="half the widest min-max spread"),
        details=details,
        evidence=Evidence(pcap=str(path), frames=sorted(frames), console_lines=lines,
                          files=[str(f) for f in plot.files]))
    ratios = [p["ratio_to_mathis"] for p in points if p["ratio_to_mathis"] is not None]
    related = [m.part("goodput_mathis_ratio", ratios, "ratio")] if ratios else []
    return m.model_copy(update={"related": related})
