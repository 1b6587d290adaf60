"""A burst of consecutive data segments lost in the network (CC-03 to CC-05, issue 7's
"drop exactly chosen segments: a burst"), made by the impairment bridge so the drops
are the bridge's, logged in its impairment log, and marked on the time-sequence graph.

The DUT sends `nbytes` to the reference peer (an RFC receiver without SACK, ACKing as
data arrives); the bridge drops the `nth`, `nth`+1, ... data segments of that one
connection on their way to the peer (`burst` stages with `match.nth = nth` each: a
dropped frame never reaches the next stage, so stage k's nth frame is the next one).
A retransmission counts as a data segment too: a flight smaller than the burst loses
its first resend as well. Every figure comes from the oracle's trace of the peer's
pcapng and the bridge's log; nothing here judges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.impair import control
from bench.impair.eventlog import read_log
from bench.measure.handshake import dut_settings, pcap_path
from bench.measure.loss_sweep import bridge_taken
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import ConnOptions, Peer, TcpError
from bench.model.oracle import ConnectionTrace, analyse
from bench.report.plots import Drop, impair_drops, time_sequence
from firmware_adapters.dut import Dut
from firmware_adapters.errors import DutTimeout

# duplicate-ACK counting (no SACK) and a window that never limits the DUT
PEER = ConnOptions(sack_permitted=False, window_bytes=4 << 20, wscale=7)
CAPTURE_MS = Tolerance(abs=1.0, why="kernel timestamps of the bridge log and the capture")


def impair_log_for(sock: Path) -> Path:
    """The lab's impairment log beside its control socket (bench.lab.up: the bridge of
    `<state_dir>/impair-<prefix>.sock` logs to `<state_dir>/<prefix>logs/`)."""
    prefix = sock.stem.removeprefix("impair-")
    return sock.parent / f"{prefix}logs" / "impair-events.jsonl"


def burst_rules(dut_ip: str, dut_port: int, peer_port: int, nth: int,
                burst: int) -> dict[str, Any]:
    """`burst` consecutive data segments of one connection, DUT -> bench, dropped."""
    match = {"proto": "tcp", "src_net": f"{dut_ip}/32", "src_port": dut_port,
             "dst_port": peer_port, "payload_min_bytes": 1, "nth": nth}
    stages = [{"name": f"burst-{i + 1}", "match": match, "action": {"kind": "drop"},
               "log": "drops"} for i in range(burst)]
    return {"seed": 1, "to-bench": stages, "to-dut": []}


def recovery(trace: ConnectionTrace, drops: list[Drop]) -> dict[str, Any]:
    """How the DUT repaired the burst, from the trace. The capture never saw the
    dropped originals, so any data row at a lost offset after the first drop is a
    resend (the oracle may call it out-of-order); other rows it marks retransmissions
    resend bytes the peer already had (go-back-N after an RTO)."""
    if not drops:
        return {"covered": False, "resent_lost": [], "resends": []}
    lost = {d.rel_seq for d in drops}
    end = max(d.rel_seq + d.length for d in drops)
    data = [r for r in trace.rows if r.direction == "tx" and r.payload_bytes]
    repairs = [r for r in data if r.rel_seq in lost and r.time_ns > drops[0].time_ns]
    needless = [r for r in data if r.retransmission and r.rel_seq not in lost]
    covering = next((r for r in trace.rows if r.direction == "rx"
                     and r.time_ns > drops[0].time_ns and r.rel_ack >= end), None)
    resends = sorted(repairs + needless, key=lambda r: r.frame_no)
    return {
        "covered": covering is not None,
        "lost_rel_seq": sorted(lost),
        "resent_lost": sorted({r.rel_seq for r in repairs}),
        "resends": [{"frame": r.frame_no, "rel_seq": r.rel_seq, "lost": r.rel_seq in lost,
                     "kind": r.retransmission_kind or "not marked"} for r in resends],
        "needless_resends": len(needless),
        "covering_ack_frame": covering.frame_no if covering else None,
        "recovery_ms": (round((covering.time_ns - drops[0].time_ns) / 1e6, 3)
                        if covering else None),
    }


def measure_burst_loss(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                       port: int = 7014, nth: int = 12, burst: int = 3,
                       nbytes: int = 200_000, timeout_s: float = 30.0,
                       impair_control: str | None = None, impair_log: str | None = None,
                       settings: dict[str, Any] | None = None) -> Measurement:
    """value = burst_loss_recovered: every byte reached the peer and each segment the
    bridge dropped was resent; related: burst_recovery_ms (first drop to the peer's
    ACK covering the burst), burst_resends (retransmissions in the transfer).
    Plot `burst-loss-time-sequence` with the drops from the impairment log."""
    lines: list[str] = []
    delivered = False
    with bridge_taken(impair_control, timeout_s * 4) as sock, \
            dut_settings(dut, settings) as applied:
        log = Path(impair_log) if impair_log else impair_log_for(sock)
        lid = dut.listen(port, mode="discard")
        try:
            conn = peer.connect(dut_ip, port, options=PEER)
            lport = conn.local[1]
            accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
            lines.append(accepted.raw)
            cid = int(accepted.fields["id"])
            control.request(sock, {"op": "set",
                                   "rules": burst_rules(dut_ip, port, lport, nth, burst)})
            dut.send(cid, nbytes)
            try:  # a DUT that never repairs the burst is a finding, not an error
                delivered = len(conn.recv_exactly(nbytes, timeout_s)) == nbytes
                lines.append(dut.wait_event("sent", 5, id=str(cid)).raw)
            except (TcpError, TimeoutError, DutTimeout) as exc:
                lines.append(f"# not delivered: {exc}")
            shown = control.request(sock, {"op": "show"})
            conn.abort()
        finally:
            control.request(sock, {"op": "clear"})  # flushes the log (a rules record)
            dut.unlisten(lid)
    path = pcap_path(peer)
    assert path is not None, "the peer records no pcap"
    trace = next(c for c in analyse(path, dut_ip).connections
                 if c.dut_port == port and c.peer_port == lport)
    drops = impair_drops(read_log(log), trace)
    rec = recovery(trace, drops)
    plot = time_sequence(trace, Path(pcap_dir), "burst-loss-time-sequence", drops,
                         f"{dut.name}: {burst} segments dropped by the impairment bridge")
    recovered = (delivered and rec["covered"] and len(drops) == burst
                 and rec["resent_lost"] == rec["lost_rel_seq"])
    details: dict[str, Any] = {
        "drops": [{"t_ns": d.time_ns, "rel_seq": d.rel_seq, "len": d.length}
                  for d in drops], "delivered": delivered, **rec,
        "bridge_stages": shown.get("stages"), "nth": nth, "burst": burst,
        "nbytes": nbytes, "port": port, "peer_port": lport, "impair_log": str(log),
        "settings": applied,
    }
    frames = [r["frame"] for r in rec.get("resends", [])] + (
        [rec["covering_ack_frame"]] if rec.get("covering_ack_frame") else [])
    m = Measurement(
        name="burst_loss_recovered", dut=dut.name, value=recovered, unit="bool",
        behaviours=["CC-03", "CC-05"], details=details,
        evidence=Evidence(pcap=str(path), frames=sorted(frames), console_lines=lines,
                          files=[str(f) for f in plot.files] + [str(log)],
                          note=f"{len(drops)} drops in the impairment log"))
    related = [m.part("burst_resends", len(rec.get("resends", [])), "count")]
    if rec.get("recovery_ms") is not None:
        related.append(m.part("burst_recovery_ms", rec["recovery_ms"], "ms", CAPTURE_MS))
    return m.model_copy(update={"related": related})
