"""Connection release (CL-01 to CL-03, CL-05 to CL-11), seen on the wire and in the
DUT's own connection list.

Each `measure_*` is one experiment on its own DUT listening port and connection, so
the timer-bound ones can run side by side (`bench.measure.parallel`). A state path is
what the DUT's `conns` showed for the connection's 4-tuple (after `close` the
application id is gone, the kernel or pcb lives on); the segments behind every figure
are the frames in evidence. Times come from the peer's kernel timestamps only.

The close experiments (and TIME_WAIT's) listen on 7200-7221, ports no other family
uses: where the DUT closes first its listening port stays in TIME_WAIT (120 s on stock
lwIP, whose tcp_bind() refuses a port a TIME_WAIT pcb holds without SO_REUSE), so a
later experiment on the same port would fail its `listen` with EBUSY.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure.handshake import CAPTURE, dut_settings, from_dut, pcap_path, seconds
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.measure.time_wait import close_dut_first, probe
from bench.model import Connection, Peer, Segment
from bench.model.rules import DropRule
from bench.model.segment import ACK, FIN, RST, SYN
from firmware_adapters.dut import Dut

ANSWER_WAIT_S = 1.0


# ----------------------------------------------------------------------- helpers
@dataclass
class Opened:
    """A connection from the peer to a DUT listener, accepted by the DUT."""

    conn: Connection
    cid: int
    lport: int
    since: int  # log position before the SYN
    console: str


@contextmanager
def listening(dut: Dut, port: int, mode: str = "discard") -> Iterator[int]:
    lid = dut.listen(port, mode=mode)
    try:
        yield lid
    finally:
        dut.unlisten(lid)


def open_to_dut(dut: Dut, peer: Peer, dut_ip: str, port: int) -> Opened:
    since = peer.mark()
    conn = peer.connect(dut_ip, port)
    lport = conn.local[1]
    accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
    return Opened(conn, int(accepted.fields["id"]), lport, since, accepted.raw)


def flow_from_dut(port: int, lport: int) -> Any:
    return lambda s: s.sport == port and s.dport == lport


def dut_state(dut: Dut, peer: Peer, lport: int) -> str:
    """The DUT's state for the connection from the peer's `lport` (CLOSED: not listed)."""
    remote = f"{peer.ip}:{lport}"
    rows = [r for r in dut.conns() if r.remote == remote and r.state != "LISTEN"]
    return rows[0].state if rows else "CLOSED"


def wait_state(dut: Dut, peer: Peer, lport: int, want: str, path: list[str],
               timeout_s: float = 5.0) -> bool:
    """Poll `conns` until the connection is in `want`; every new state goes on `path`."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = dut_state(dut, peer, lport)
        if not path or path[-1] != state:
            path.append(state)
        if state == want:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def wait_segment(peer: Peer, since: int, dut_ip: str, keep: Any,
                 timeout_s: float = 5.0) -> Segment | None:
    """The first segment from the DUT (logged after `since`) that `keep` accepts."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = from_dut(peer, since, dut_ip, keep)
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.01)


def _fin(s: Segment) -> bool:
    return bool(s.flags & FIN)


def _pure_ack(s: Segment) -> bool:
    return s.flags & (ACK | FIN | RST | SYN) == ACK and not s.payload


def _frames(*segs: Segment | None) -> list[int]:
    return sorted({s.frame_no for s in segs if s is not None and s.frame_no})


def _path_figure(name: str, dut: Dut, peer: Peer, path: list[str], ids: list[str],
                 frames: list[int], lines: list[str], **details: Any) -> Measurement:
    return Measurement(name=name, dut=dut.name, value=",".join(path), unit="states",
                       behaviours=ids, details={"path": path, **details},
                       evidence=Evidence(pcap=pcap_path(peer), frames=frames,
                                         console_lines=lines,
                                         note="states from the DUT's conns"))


@contextmanager
def no_peer_rst(peer: Peer, port: int, lports: set[int]) -> Iterator[None]:
    """Drop the peer's RSTs on these connections: after its own close the peer would
    answer the DUT's ACKs with a RST, which kills a TIME_WAIT (RFC 1337)."""
    rule = peer.add_drop_rule(DropRule(
        "out", lambda s: bool(s.flags & RST) and s.dport == port and s.sport in lports,
        count=None))
    try:
        yield
    finally:
        peer.remove_drop_rule(rule)


# -------------------------------------------------------------- CL-01 active close
def measure_active_close(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                         port: int = 7211) -> Measurement:
    """The DUT closes first; the peer withholds its ACK (FIN_WAIT_1 shows), then ACKs
    u+1 (FIN_WAIT_2), then sends its FIN (TIME_WAIT). value = the state path."""
    path: list[str] = []
    with listening(dut, port):
        o = open_to_dut(dut, peer, dut_ip, port)
        o.conn.hold_acks(True)
        dut.close_conn(o.cid)
        fin = wait_segment(peer, o.since, dut_ip, lambda s: _fin(s) and s.dport == o.lport)
        wait_state(dut, peer, o.lport, "FIN_WAIT_1", path, 2)
        mark = peer.mark()
        o.conn.hold_acks(False)  # the ACK of the DUT's FIN: ack = u + 1
        wait_state(dut, peer, o.lport, "FIN_WAIT_2", path)
        ack = next((s for s in peer.segments(mark) if s.direction == "out" and _pure_ack(s)
                    and s.sport == o.lport), None)
        o.conn.close()
        wait_state(dut, peer, o.lport, "TIME_WAIT", path)
    u_plus_1 = bool(fin and ack and ack.ack == (fin.seq + 1) & 0xFFFFFFFF)
    return _path_figure("active_close_path", dut, peer, path, ["CL-01"], _frames(fin, ack),
                        [o.console], ack_is_u_plus_1=u_plus_1, port=port)


# ---------------------------------------------------------------- CL-02 half-close
def measure_half_close(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                       port: int = 7212, nbytes: int = 1000) -> Measurement:
    """(a) The DUT shuts down its send side; the peer then sends `nbytes`: delivered and
    ACKed? (b) The peer sends FIN first; the DUT then sends `nbytes`: received?"""
    with listening(dut, port):
        a = open_to_dut(dut, peer, dut_ip, port)
        dut.shutdown(a.cid)
        a.conn.wait_state("CLOSE_WAIT", 5)
        a.conn.send(bytes(nbytes))
        try:
            a.conn.wait_acked(5)
            acked = True
        except TimeoutError:
            acked = False
        rx_after_fin = int(dut.stat(a.cid).get("rx_bytes", "0"))
        dut.close_conn(a.cid)  # before the peer's FIN frees the id (lwIP)
        a.conn.close()
        b = open_to_dut(dut, peer, dut_ip, port)
        b.conn.shutdown()
        dut.wait_event("peer_closed", 5, id=str(b.cid))
        dut.send(b.cid, nbytes)
        try:
            got = len(b.conn.recv_exactly(nbytes, 5))
        except (TimeoutError, RuntimeError):
            got = 0
        dut.close_conn(b.cid)
    dut_fin = wait_segment(peer, a.since, dut_ip, lambda s: _fin(s) and s.dport == a.lport, 0)
    data_acks = [s for s in from_dut(peer, a.since, dut_ip, lambda s: s.dport == a.lport)
                 if _pure_ack(s) and dut_fin is not None and s.ts_ns > dut_fin.ts_ns]
    sent = [s for s in from_dut(peer, b.since, dut_ip, lambda s: s.dport == b.lport)
            if s.payload]
    m = Measurement(
        name="half_close_receives", dut=dut.name,
        value=acked and rx_after_fin == nbytes, unit="bool", behaviours=["CL-02"],
        details={"bytes_after_dut_fin": rx_after_fin, "acked": acked,
                 "bytes_sent_in_close_wait": got, "nbytes": nbytes, "port": port},
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=_frames(dut_fin, *data_acks[:2], *sent[:2]),
                          console_lines=[a.console, b.console]))
    return m.model_copy(update={"related": [
        m.part("close_wait_sends", got == nbytes, "bool",
               note="bytes the DUT sent after the peer's FIN, received by the peer")]})


# ------------------------------------------------------------ CL-03 passive close
def measure_passive_close(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                          port: int = 7213) -> Measurement:
    """The peer closes first: the DUT ACKs (CLOSE_WAIT); its application closes (FIN,
    LAST_ACK while the peer withholds its ACK); the final ACK leaves it CLOSED with no
    TIME_WAIT. value = the state path."""
    path: list[str] = []
    with listening(dut, port):
        o = open_to_dut(dut, peer, dut_ip, port)
        o.conn.close()
        dut.wait_event("peer_closed", 5, id=str(o.cid))
        wait_state(dut, peer, o.lport, "CLOSE_WAIT", path)
        o.conn.hold_acks(True)
        dut.close_conn(o.cid)
        wait_state(dut, peer, o.lport, "LAST_ACK", path)
        o.conn.hold_acks(False)
        wait_state(dut, peer, o.lport, "CLOSED", path)
        time.sleep(0.2)  # a TIME_WAIT entry would show now
        wait_state(dut, peer, o.lport, "CLOSED", path, 0)
    ack = wait_segment(peer, o.since, dut_ip, lambda s: _pure_ack(s) and s.dport == o.lport
                       and s.ack == (o.conn.tcb.iss + 2) & 0xFFFFFFFF, 0)
    fin = wait_segment(peer, o.since, dut_ip, lambda s: _fin(s) and s.dport == o.lport, 0)
    return _path_figure("passive_close_path", dut, peer, path, ["CL-03"], _frames(ack, fin),
                        [o.console], time_wait=("TIME_WAIT" in path), port=port)


# ------------------------------------------------------- CL-05 FIN in TIME_WAIT
def measure_time_wait_restart(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                              port: int = 7215, first_s: float = 20.0,
                              second_s: float = 70.0) -> Measurement:
    """The DUT is in TIME_WAIT; at `first_s` the peer retransmits its FIN (re-ACKed?);
    at `second_s`, past the first TIME_WAIT's end but before first_s + TIME_WAIT, the FIN
    again: a re-ACK means the first one restarted the timer (RFC 9293 3.10.7.4).
    Choose second_s with TIME_WAIT + its tick < second_s < first_s + TIME_WAIT."""
    with listening(dut, port):
        c = close_dut_first(dut, peer, dut_ip, port)
        probes = []
        with no_peer_rst(peer, port, {c.lport}):
            for offset in (first_s, second_s):
                wait_s = (c.last_ack.ts_ns + int(offset * 1e9) - time.time_ns()) / 1e9
                time.sleep(max(wait_s, 0))  # scheduling only; offsets are kernel times
                probes.append(probe(peer, dut_ip, port, c, ANSWER_WAIT_S))
    first, second = probes
    m = Measurement(
        name="time_wait_restart_on_fin", dut=dut.name, value=second.answer == "ack",
        unit="bool", behaviours=["CL-05"],
        details={"probes": [{"offset_s": p.offset_s, "answer": p.answer, "frames": p.frames}
                            for p in probes], "port": port},
        evidence=Evidence(pcap=pcap_path(peer), frames=first.frames + second.frames,
                          console_lines=[c.console],
                          note=f"FIN at {first.offset_s:.3f} s -> {first.answer}, "
                               f"at {second.offset_s:.3f} s -> {second.answer}"))
    return m.model_copy(update={"related": [
        m.part("time_wait_reack_fin", first.answer == "ack", "bool")]})


# --------------------------------------------------- CL-06 FIN+ACK to TIME_WAIT
def measure_fin_ack_close(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                          port: int = 7216) -> Measurement:
    """The DUT closes; the peer answers the FIN with one FIN+ACK (its ACK withheld):
    FIN_WAIT_1 goes straight to TIME_WAIT, without FIN_WAIT_2 or CLOSING."""
    path: list[str] = []
    with listening(dut, port):
        o = open_to_dut(dut, peer, dut_ip, port)
        o.conn.hold_acks(True)
        dut.close_conn(o.cid)
        o.conn.wait_state("CLOSE_WAIT", 5)
        wait_state(dut, peer, o.lport, "FIN_WAIT_1", path, 2)
        mark = peer.mark()
        o.conn.close()  # FIN carrying ack = u + 1
        wait_state(dut, peer, o.lport, "TIME_WAIT", path)
        o.conn.hold_acks(False)
    fin_ack = next((s for s in peer.segments(mark) if s.direction == "out"
                    and s.sport == o.lport and _fin(s)), None)
    ack = wait_segment(peer, mark, dut_ip, lambda s: _pure_ack(s) and s.dport == o.lport, 0)
    direct = path[-1:] == ["TIME_WAIT"] and not {"FIN_WAIT_2", "CLOSING"} & set(path)
    m = _path_figure("fin_ack_to_time_wait", dut, peer, path, ["CL-06"],
                     _frames(fin_ack, ack), [o.console], port=port)
    return m.model_copy(update={"value": direct, "unit": "bool"})


# ------------------------------------------------- CL-07 simultaneous close
def measure_simultaneous_close(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 7217) -> Measurement:
    """Both FINs cross: the peer does not see the DUT's FIN (dropped on input until the
    peer has sent its own, still in the capture); the DUT passes CLOSING, then (after
    retransmitting its FIN, which the peer ACKs) TIME_WAIT. value = the state path."""
    path: list[str] = []
    with listening(dut, port):
        o = open_to_dut(dut, peer, dut_ip, port)
        rule = peer.add_drop_rule(DropRule(
            "in", lambda s: _fin(s) and s.sport == port and s.dport == o.lport, count=None))
        try:
            dut.close_conn(o.cid)
            first_fin = wait_segment(peer, o.since, dut_ip,
                                     lambda s: _fin(s) and s.dport == o.lport)
            wait_state(dut, peer, o.lport, "FIN_WAIT_1", path, 2)
            o.conn.close()  # its FIN does not ACK the DUT's
            wait_state(dut, peer, o.lport, "CLOSING", path, 5)  # held: its FIN unACKed
        finally:
            peer.remove_drop_rule(rule)  # the DUT's next FIN retransmission gets through
        wait_state(dut, peer, o.lport, "TIME_WAIT", path, 20)
    fins = [s for s in from_dut(peer, o.since, dut_ip, lambda s: _fin(s) and s.dport == o.lport)]
    return _path_figure("simultaneous_close_path", dut, peer, path, ["CL-07"],
                        _frames(first_fin, *fins), [o.console],
                        dut_fins=len(fins), port=port)


# ---------------------------------------------------------- CL-08 merged close
def measure_merged_close(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                         port: int = 7218) -> Measurement:
    """The peer closes first; the DUT's application closes as soon as it hears of it
    (`EVT peer_closed`). value = segments in the close: 3 when the DUT's ACK of the FIN
    rides on its own FIN, 4 when it ACKs first."""
    with listening(dut, port):
        o = open_to_dut(dut, peer, dut_ip, port)
        mark = peer.mark()
        o.conn.close()
        dut.wait_event("peer_closed", 5, id=str(o.cid))
        dut.close_conn(o.cid)
        o.conn.wait_state("TIME_WAIT", 5)
        time.sleep(0.1)
    flow = [s for s in peer.segments(mark) if s.flags & (FIN | ACK)
            and {s.sport, s.dport} == {port, o.lport}]
    ours = [s for s in flow if s.direction == "in"]
    close = flow[:1 + len(ours) + 1]
    return Measurement(
        name="close_segments", dut=dut.name, value=len(close), unit="segments",
        behaviours=["CL-08"],
        details={"segments": [f"{'peer' if s.direction == 'out' else 'dut'} {s.flags_str}"
                              for s in close], "port": port},
        evidence=Evidence(pcap=pcap_path(peer), frames=_frames(*close),
                          console_lines=[o.console]))


# ---------------------------------------------------------- CL-09 CLOSE_WAIT leak
def measure_close_wait_leak(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                            port: int = 7219, idle_s: float = 3.0) -> Measurement:
    """The peer closes; the DUT's application stays idle for `idle_s`. Is the connection
    still in CLOSE_WAIT (the leak a bench must detect), with no FIN on the wire?"""
    with listening(dut, port):
        o = open_to_dut(dut, peer, dut_ip, port)
        o.conn.close()
        dut.wait_event("peer_closed", 5, id=str(o.cid))
        time.sleep(idle_s)
        rows = [r for r in dut.conns() if r.remote == f"{peer.ip}:{o.lport}"]
        state = rows[0].state if rows else "CLOSED"
        age_ms = rows[0].extra.get("age_ms") if rows else None
        fins = from_dut(peer, o.since, dut_ip, lambda s: _fin(s) and s.dport == o.lport)
        peer_fin = next((s for s in peer.segments(o.since) if s.direction == "out"
                         and s.sport == o.lport and _fin(s)), None)
        acked = wait_segment(peer, o.since, dut_ip, lambda s: _pure_ack(s)
                             and s.dport == o.lport and peer_fin is not None
                             and s.ack == (peer_fin.seq + 1) & 0xFFFFFFFF, 0)
        dut.close_conn(o.cid)  # the bench ends the leak it made
    m = Measurement(
        name="close_wait_persists", dut=dut.name,
        value=state == "CLOSE_WAIT" and not fins, unit="bool", behaviours=["CL-09"],
        details={"state_after_idle": state, "idle_s": idle_s, "dut_fin_sent": bool(fins),
                 "port": port},
        evidence=Evidence(pcap=pcap_path(peer), frames=_frames(peer_fin, acked, *fins),
                          console_lines=[o.console]))
    age = m.part("close_wait_age_s", int(age_ms) / 1000 if age_ms else None, "s",
                 Tolerance(abs=0.1, why="console: the connection's age_ms in conns"),
                 note="console-based: the DUT's own age of the connection")
    return m.model_copy(update={"related": [age]})


# ------------------------------------------------ CL-10 FIN_WAIT_2 orphan timeout
def keepalive_probe(peer: Peer, dut_ip: str, port: int, o: Opened,
                    dut_fin: Segment) -> tuple[Segment, Segment | None]:
    """An old byte again (seq = SND.NXT - 1, as a keepalive): a live connection ACKs it
    without restarting any timer; a forgotten one (the listener's port) answers RST."""
    since = peer.mark()
    sent = peer.inject(dut_ip, port, o.lport, "A", o.conn.tcb.snd_nxt - 1,
                       (dut_fin.seq + 1) & 0xFFFFFFFF, payload=b"\x00")
    reply = wait_segment(peer, since, dut_ip, flow_from_dut(port, o.lport), ANSWER_WAIT_S)
    return sent, reply


def measure_fin_wait_2_timeout(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 7220, every_s: float = 0.6, conns: int = 3,
                               timeout_s: float = 30.0,
                               settings: dict[str, Any] | None = None) -> Measurement:
    """The DUT closes `conns` connections; the peer ACKs each FIN and never sends its
    own. Each is probed (keepalive-style) every `every_s` (Linux answers one per 500 ms
    per connection), the connections at staggered phases, until the DUT answers RST.
    value = midpoint of the last ACKed and the first RST probe, each timed from its
    connection's FIN_WAIT_2 entry (the peer's ACK). Linux: `settings={"tcp_fin_timeout": 3}`."""
    answers: list[tuple[float, str, list[int]]] = []
    path: list[str] = []
    lines: list[str] = []
    with dut_settings(dut, settings) as applied, listening(dut, port):
        waiting = []
        for _ in range(conns):
            o = open_to_dut(dut, peer, dut_ip, port)
            dut.close_conn(o.cid)
            o.conn.wait_state("CLOSE_WAIT", 5)
            fin = wait_segment(peer, o.since, dut_ip, lambda s, o=o: _fin(s) and s.dport == o.lport)
            assert fin is not None
            ack = next(s for s in peer.segments(o.since) if s.direction == "out"
                       and s.sport == o.lport and s.ack == (fin.seq + 1) & 0xFFFFFFFF)
            waiting.append((o, fin, ack))
            lines.append(o.console)
        wait_state(dut, peer, waiting[0][0].lport, "FIN_WAIT_2", path, 2)
        phase = every_s / conns
        due = {o.lport: time.monotonic() + i * phase for i, (o, _, _) in enumerate(waiting)}
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            o, fin, ack = min(waiting, key=lambda w: due[w[0].lport])
            time.sleep(max(due[o.lport] - time.monotonic(), 0))
            sent, reply = keepalive_probe(peer, dut_ip, port, o, fin)
            kind = "none" if reply is None else "rst" if reply.flags & RST else "ack"
            answers.append((seconds(ack.ts_ns, sent.ts_ns), kind, _frames(sent, reply)))
            due[o.lport] += every_s
            if kind == "rst":
                waiting.remove((o, fin, ack))
        for o, _, _ in waiting:
            o.conn.abort()
    alive = [t for t, k, _ in answers if k == "ack"]
    gone = [t for t, k, _ in answers if k == "rst"]
    last_alive = max((t for t in alive if not gone or t < min(gone)), default=None)
    first_gone = min(gone, default=None)
    value = (round((last_alive + first_gone) / 2, 3)
             if last_alive is not None and first_gone is not None else None)
    tol = (Tolerance(abs=round((first_gone - last_alive) / 2 + 0.001, 3),  # type: ignore[operator]
                     why="half the gap between the last ACKed and the first RST probe")
           if value is not None else Tolerance())
    return Measurement(
        name="fin_wait_2_timeout_s", dut=dut.name, value=value, unit="s",
        behaviours=["CL-10"], samples=[t for t, _, _ in answers], tolerance=tol,
        details={"probes": [{"offset_s": t, "answer": k, "frames": f} for t, k, f in answers],
                 "last_alive_s": last_alive, "first_gone_s": first_gone,
                 "path": path, "settings": applied, "port": port, "conns": conns},
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=sorted({f for t, _, fs in answers
                                         if t in (last_alive, first_gone) for f in fs}),
                          console_lines=lines,
                          note="" if value is not None else
                          f"FIN_WAIT_2 not left within {timeout_s} s"))


# ------------------------------------------- CL-11 SYN on a TIME_WAIT 4-tuple
def measure_time_wait_syn_reuse(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                                port: int = 7221, isn_step: int = 100_000,
                                after_s: float = 0.5) -> Measurement:
    """The DUT is in TIME_WAIT; the peer sends a new SYN from the same port with an ISN
    `isn_step` above its old FIN (RFC 6191 / RFC 9293 3.10.7.4). SYN-ACK = accepted;
    ACK or RST = refused."""
    with listening(dut, port):
        c = close_dut_first(dut, peer, dut_ip, port)
        time.sleep(after_s)
        since = peer.mark()
        syn = peer.inject(dut_ip, port, c.lport, "S", c.fin.seq + 1 + isn_step,
                          options_raw=b"\x02\x04\x05\xb4")
        reply = wait_segment(peer, since, dut_ip, flow_from_dut(port, c.lport), ANSWER_WAIT_S)
    flags = reply.flags_str if reply is not None else None
    accepted = reply is not None and reply.flags & (SYN | ACK) == SYN | ACK
    return Measurement(
        name="time_wait_syn_reuse_accepted", dut=dut.name, value=bool(accepted),
        unit="bool", behaviours=["CL-11"],
        samples=[seconds(syn.ts_ns, reply.ts_ns)] if reply is not None else [],
        tolerance=CAPTURE,
        details={"reply_flags": flags, "isn_step": isn_step, "port": port,
                 "syn_after_s": seconds(c.last_ack.ts_ns, syn.ts_ns)},
        evidence=Evidence(pcap=pcap_path(peer), frames=_frames(syn, reply),
                          console_lines=[c.console],
                          note="" if reply else f"no answer within {ANSWER_WAIT_S} s"))
