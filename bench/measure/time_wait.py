"""How long the DUT stays in TIME_WAIT (CL-04), found on the wire, not from its report.

The DUT closes first; the peer ACKs its FIN and sends its own; the DUT's ACK of that
FIN (kernel timestamp) starts TIME_WAIT. From then the peer probes the connection
quietly: one byte at its FIN's sequence number, without ACK or FIN. A TIME_WAIT
endpoint ACKs it without restarting its timer (a FIN would restart it, RFC 9293
3.10.7.4); once the connection is gone, the closed port answers RST. So every
connection gives its own lifetime, to the probe interval.

Stacks fire the timer on a grid (Linux's timer wheel, lwIP's slow tick), so a lifetime
is the programmed length plus up to one grid period. Connections started at staggered
phases expire on different grid instants, and `bench.measure.timer_grid` infers the
programmed length from them.

The peer does not answer the DUT's re-ACK: its own side of the connection is closed,
and the RST a closed port would send kills a TIME_WAIT (RFC 1337 assassination, which
Linux allows), so the peer's RSTs on probed connections are dropped. `probe()` (a FIN
again, which does restart the timer) is kept for the restart experiment (close.py).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure.handshake import from_dut, pcap_path, seconds
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.measure.timer_grid import Lifetime, programmed_timer
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


def probe_quietly(peer: Peer, dut_ip: str, port: int, c: Closed) -> Segment:
    """One byte at the peer's FIN's sequence number, without ACK or FIN: a TIME_WAIT
    endpoint ACKs it (out of window) without restarting its timer (Linux reschedules
    only for an ACK or a PAWS reject, lwIP only for a FIN; data is never rate-limited);
    once the connection is gone, the closed port answers RST."""
    return peer.inject(dut_ip, port, c.lport, 0, c.fin.seq, 0, payload=b"x")


@dataclass
class Watch:
    """The quiet probes of one connection and the DUT's answers to them."""

    closed: Closed
    sent: list[Segment]
    answers: list[Segment]

    def paired(self) -> list[tuple[Segment, Segment | None]]:
        """Each probe with its answer. The DUT answers every probe once, in order, but
        on a loaded host an answer may come after the next probe: the answers are
        taken in order, each the first unused one after its probe."""
        pairs: list[tuple[Segment, Segment | None]] = []
        left = sorted(self.answers, key=lambda a: a.ts_ns)
        for sent in self.sent:
            got = next((a for a in left if a.ts_ns > sent.ts_ns), None)
            if got is not None:
                left.remove(got)
            pairs.append((sent, got))
        return pairs

    def lifetime(self) -> tuple[Lifetime | None, list[int], int]:
        """(last alive, first gone) as a Lifetime, the frames that show it, and the
        number of unanswered probes. Alive is the last ACKed probe's send time (alive
        when it arrived, so alive then); gone is the time of the first RST (gone when
        the DUT answered, so gone by then), so the bracket holds however late the DUT
        answers."""
        start = self.closed.last_ack.ts_ns
        alive: tuple[Segment, Segment] | None = None
        silent = 0
        for sent, got in self.paired():
            if got is None:
                silent += 1
            elif got.flags & RST:
                if alive is None:
                    return None, [self.closed.last_ack.frame_no, sent.frame_no,
                                  got.frame_no], silent
                frames = [self.closed.last_ack.frame_no, alive[0].frame_no,
                          alive[1].frame_no, sent.frame_no, got.frame_no]
                return (Lifetime(start / 1e9, seconds(start, alive[0].ts_ns),
                                 seconds(start, got.ts_ns)), frames, silent)
            else:
                alive = (sent, got)
        return None, [self.closed.last_ack.frame_no], silent


def watch_until_gone(peer: Peer, dut_ip: str, port: int, closed: list[Closed],
                     window_s: tuple[float, float], every_s: float,
                     answer_wait_s: float) -> list[Watch]:
    """Probe each connection every `every_s` from window_s[0] to window_s[1] after its
    TIME_WAIT began, until its first RST. Python's clock only schedules the probes."""
    start = peer.mark()
    seen = start
    watches = [Watch(c, [], []) for c in closed]
    by_port = {c.lport: w for c, w in zip(closed, watches, strict=True)}
    plan = [(c.last_ack.ts_ns + int(window_s[0] * 1e9), i) for i, c in enumerate(closed)]
    heapq.heapify(plan)

    def collect() -> None:
        nonlocal seen
        new = peer.segments(seen)
        seen += len(new)
        for s in new:
            w = by_port.get(s.dport)
            if s.direction == "in" and s.sport == port and w is not None:
                w.answers.append(s)

    while plan:
        due_ns, i = heapq.heappop(plan)
        collect()
        w = watches[i]
        if any(a.flags & RST for a in w.answers):
            continue
        wait_s = (due_ns - time.time_ns()) / 1e9
        if wait_s > 0:
            time.sleep(wait_s)
        w.sent.append(probe_quietly(peer, dut_ip, port, w.closed))
        following = due_ns + int(every_s * 1e9)
        if following <= w.closed.last_ack.ts_ns + int(window_s[1] * 1e9):
            heapq.heappush(plan, (following, i))
    time.sleep(answer_wait_s)
    collect()
    return watches


def measure_time_wait_duration(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 7205, connections: int = 4,
                               stagger_s: float = 0.17,
                               window_s: tuple[float, float] = (1.0, 4.0),
                               every_s: float = 0.05,
                               answer_wait_s: float = 0.5) -> Measurement:
    """value = the programmed TIME_WAIT length, s, inferred from the lifetimes of
    `connections` connections that entered TIME_WAIT `stagger_s` apart (bench.measure.
    timer_grid); tolerance = half the interval the lifetimes leave for it. Each lifetime
    runs from the DUT's last ACK to the first quiet probe answered by RST (kernel
    timestamps); the connections' starts should span one period of the DUT's timer grid
    (Linux 2.048 s, lwIP 0.5 s) so that they expire on at least two grid instants."""
    lid = dut.listen(port, mode="discard")
    listening = True
    probed: set[int] = set()
    no_assassination = peer.add_drop_rule(DropRule(
        "out", lambda s: bool(s.flags & RST) and s.dport == port and s.sport in probed,
        count=None))
    closed: list[Closed] = []
    try:
        for n in range(connections):
            if n:
                time.sleep(stagger_s)  # scheduling only: the starts are kernel stamps
            closed.append(close_dut_first(dut, peer, dut_ip, port))
            probed.add(closed[-1].lport)
        rows = dut.conns()
        listed = sum(any(r.state == "TIME_WAIT" and r.remote == f"{peer.ip}:{c.lport}"
                         for r in rows) for c in closed)
        dut.unlisten(lid)  # a gone connection's port must answer RST, not a listener
        listening = False
        watches = watch_until_gone(peer, dut_ip, port, closed, window_s, every_s,
                                   answer_wait_s)
    finally:
        peer.remove_drop_rule(no_assassination)
        if listening:
            dut.unlisten(lid)
    seen = [w.lifetime() for w in watches]
    lives = [life for life, _, _ in seen if life is not None]
    estimate = programmed_timer(lives) if len(lives) == len(watches) else None
    if estimate is not None and estimate.value is not None:
        value: float | None = round(estimate.value, 4)
        tolerance = Tolerance(abs=round((estimate.half_width or 0.0) + 0.001, 4),
                              why="half the interval the staggered lifetimes leave for the "
                                  "programmed timer (bench.measure.timer_grid)")
        note = ""
    else:
        value, tolerance = None, Tolerance()
        note = (estimate.why if estimate is not None else
                "not every connection was seen alive and then gone inside the probe "
                f"window {window_s[0]}-{window_s[1]} s")
    details: dict[str, Any] = {
        "lifetimes": [{"lport": w.closed.lport, "alive_s": life.alive_s if life else None,
                       "gone_s": life.gone_s if life else None, "probes": len(w.sent),
                       "frames": frames}
                      for w, (life, frames, _) in zip(watches, seen, strict=True)],
        "unanswered": sum(silent for _, _, silent in seen),
        "timer_grid_s": round(estimate.grid_s, 4) if estimate and estimate.grid_s else None,
        "expiry_instants": len(estimate.clusters) if estimate else None,
        "interval_s": [estimate.low_s, estimate.high_s] if estimate else None,
        "why": estimate.why if estimate else note,
        "conns_cross_check": [{"when": "after closing", "time_wait_listed": listed,
                               "of": len(closed)}],
        "probe": "1 byte at the peer's FIN's sequence number, no ACK, no FIN",
        "port": port,
    }
    return Measurement(
        name="time_wait_s", dut=dut.name, value=value, unit="s", behaviours=["CL-04"],
        samples=[life.gone_s for life in lives], tolerance=tolerance, details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=sorted(f for _, frames, _ in seen for f in frames),
                          console_lines=[c.console for c in closed], note=note),
    )
