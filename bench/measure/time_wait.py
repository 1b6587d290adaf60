"""How long the DUT stays in TIME_WAIT (CL-04), found on the wire, not from its report.

The DUT closes first; the peer ACKs its FIN and sends its own; the DUT's ACK of that
FIN (kernel timestamp) starts TIME_WAIT. A probe is the peer's FIN sent again: a
TIME_WAIT endpoint ACKs it again, an endpoint that has left TIME_WAIT answers RST.
A FIN restarts the TIME_WAIT timer (RFC 9293 3.10.7.4), so each connection is probed
once only: a round opens several connections and probes each at its own offset; the
next round probes inside the bracket the previous one found.

The peer does not answer the DUT's re-ACK: its own side of the connection is closed,
and the RST a closed port would send kills a TIME_WAIT (RFC 1337 assassination, which
Linux allows), so the peer's RSTs on probed connections are dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure.handshake import from_dut, pcap_path, seconds
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import Peer, Segment
from bench.model.rules import DropRule
from bench.model.segment import ACK, FIN, RST
from firmware_adapters.dut import Dut


@dataclass
class Closed:
    """One connection the DUT closed first, now (presumably) in TIME_WAIT."""

    lport: int
    fin: Segment  # the peer's FIN
    last_ack: Segment  # the DUT's ACK of it: TIME_WAIT starts here
    console: str


@dataclass
class Probe:
    lport: int
    offset_s: float  # probe TX (kernel) - the DUT's last ACK (kernel)
    answer: str  # "ack", "rst" or "none"
    frames: list[int]


def close_dut_first(dut: Dut, peer: Peer, dut_ip: str, port: int) -> Closed:
    """A connection from the peer to the DUT's listener that the DUT closes first."""
    start = peer.mark()
    conn = peer.connect(dut_ip, port)
    lport = conn.local[1]
    accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
    dut.close_conn(int(accepted.fields["id"]))
    conn.wait_state("CLOSE_WAIT", 5)  # the DUT's FIN, ACKed by the peer
    conn.close()  # the peer's FIN

    def ours(s: Segment) -> bool:
        return s.sport == port and s.dport == lport

    fins = [s for s in peer.segments(start) if s.direction == "out" and s.sport == lport
            and s.flags & FIN]
    deadline = time.monotonic() + 5
    while True:
        acks = [s for s in from_dut(peer, start, dut_ip, ours) if fins and s.flags & ACK
                and not s.flags & (FIN | RST) and s.ack == (fins[0].seq + 1) & 0xFFFFFFFF]
        if acks or time.monotonic() > deadline:
            break
        time.sleep(0.02)
        fins = [s for s in peer.segments(start) if s.direction == "out"
                and s.sport == lport and s.flags & FIN]
    if not acks:
        raise RuntimeError(f"the DUT did not ACK the peer's FIN (port {lport})")
    return Closed(lport, fins[0], acks[0], accepted.raw)


def probe(peer: Peer, dut_ip: str, port: int, c: Closed, wait_s: float) -> Probe:
    """The peer's FIN again: a re-ACK (still TIME_WAIT) or a RST (gone)."""
    start = peer.mark()
    sent = peer.inject(dut_ip, port, c.lport, "FA", c.fin.seq, c.fin.ack)
    deadline = time.monotonic() + wait_s
    while True:
        replies = from_dut(peer, start, dut_ip,
                           lambda s: s.sport == port and s.dport == c.lport)
        if replies or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    answer = "none"
    if replies:
        answer = "rst" if replies[0].flags & RST else "ack"
    return Probe(c.lport, seconds(c.last_ack.ts_ns, sent.ts_ns), answer,
                 [sent.frame_no] + [s.frame_no for s in replies[:1]])


def _offsets(lo: float, hi: float, n: int, inclusive: bool) -> list[float]:
    if inclusive:
        return [lo + (hi - lo) * i / max(n - 1, 1) for i in range(n)]
    return [lo + (hi - lo) * (i + 1) / (n + 1) for i in range(n)]


def _bracket(probes: list[Probe]) -> tuple[float | None, float | None]:
    alive = [p.offset_s for p in probes if p.answer == "ack"]
    gone = [p.offset_s for p in probes if p.answer == "rst"]
    return (max(alive) if alive else None), (min(gone) if gone else None)


def measure_time_wait_duration(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 7005, bracket_s: tuple[float, float] = (1.0, 4.0),
                               per_round: int = 4, rounds: int = 3,
                               answer_wait_s: float = 1.0) -> Measurement:
    """value = s from the DUT's last ACK to the midpoint of the last re-ACKed probe and
    the first RST-answered one; tolerance = half that gap (or the overlap when probes
    of different connections disagree, e.g. a coarse timer's phase)."""
    lo, hi = bracket_s
    probes: list[Probe] = []
    lines: list[str] = []
    conns_checks: list[dict[str, Any]] = []
    lid = dut.listen(port, mode="discard")
    probed: set[int] = set()
    no_assassination = peer.add_drop_rule(DropRule(
        "out", lambda s: bool(s.flags & RST) and s.dport == port and s.sport in probed,
        count=None))
    try:
        for round_no in range(rounds):
            offsets = _offsets(lo, hi, per_round, inclusive=round_no == 0)
            closed = [close_dut_first(dut, peer, dut_ip, port) for _ in offsets]
            probed.update(c.lport for c in closed)
            lines += [c.console for c in closed]
            rows = dut.conns()
            conns_checks.append({
                "when": f"round {round_no + 1}, after closing",
                "time_wait_listed": sum(any(r.state == "TIME_WAIT" and
                                            r.remote == f"{peer.ip}:{c.lport}" for r in rows)
                                        for c in closed),
                "of": len(closed)})
            due = sorted(((c.last_ack.ts_ns + int(off * 1e9), c) for c, off in
                          zip(closed, offsets, strict=True)), key=lambda d: d[0])
            for due_ns, c in due:
                wait_s = (due_ns - time.time_ns()) / 1e9  # scheduling only; figures
                if wait_s > 0:  # come from the kernel timestamps
                    time.sleep(wait_s)
                probes.append(probe(peer, dut_ip, port, c, answer_wait_s))
            rows = dut.conns()
            gone = [p for p in probes[-len(due):] if p.answer == "rst"]
            conns_checks.append({
                "when": f"round {round_no + 1}, after probing",
                "rst_probed_but_listed": sum(any(r.state == "TIME_WAIT" and
                                                 r.remote == f"{peer.ip}:{p.lport}"
                                                 for r in rows) for p in gone)})
            alive, dead = _bracket(probes)
            if alive is None and dead is None:
                break
            if alive is None:  # everything already gone: look earlier
                lo, hi = max(lo / 4, 0.0), dead  # type: ignore[assignment]
            elif dead is None:  # everything still there: look later
                lo, hi = alive, alive * 2
            else:
                lo, hi = min(alive, dead), max(alive, dead)
    finally:
        peer.remove_drop_rule(no_assassination)
        dut.unlisten(lid)
    alive, dead = _bracket(probes)
    if alive is not None and dead is not None:
        value: float | None = round((alive + dead) / 2, 4)
        half = abs(dead - alive) / 2
        why = ("half the gap between the last re-ACKed and the first RST probe"
               if alive < dead else "half the overlap of re-ACKed and RST probes "
               "(the DUT's timer phase differs per connection)")
        tolerance = Tolerance(abs=round(half + 0.001, 4), why=why)
    else:
        value, tolerance = None, Tolerance()
    details: dict[str, Any] = {
        "last_alive_s": alive,
        "first_gone_s": dead,
        "probes": [{"offset_s": p.offset_s, "answer": p.answer, "lport": p.lport,
                    "frames": p.frames} for p in sorted(probes, key=lambda p: p.offset_s)],
        "unanswered": sum(p.answer == "none" for p in probes),
        "conns_cross_check": conns_checks,
        "port": port,
    }
    return Measurement(
        name="time_wait_s", dut=dut.name, value=value, unit="s", behaviours=["CL-04"],
        samples=[p.offset_s for p in probes], tolerance=tolerance, details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=sorted(f for p in probes for f in p.frames),
                          console_lines=lines,
                          note="" if value is not None else "TIME_WAIT end not bracketed"),
    )
