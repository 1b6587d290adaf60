"""Rebuild every TCP connection of a DUT from a capture and judge it segment by segment.

The capture is taken at the bench (the peer's side of the link), so a segment sent to
the DUT is taken as received by it at that time. Retransmission, out-of-order and
duplicate-ACK marks follow Wireshark 4.0's TCP analysis (so that the counts agree with
`tshark -Y tcp.analysis.retransmission`); the state timeline follows RFC 9293 with the
RFC 5961 exact-match rule for RST.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.model.oracle.trace import (
    ConnectionTrace,
    OracleResult,
    StateChange,
    TraceRow,
    Violation,
)
from bench.model.segment import ACK, FIN, RST, SYN, Segment, flags_str, parse_frame
from bench.model.seq import unwrap
from bench.model.states import State
from bench.wire import pcapread

_FAST_WINDOW_NS = 20_000_000
_OOO_DEFAULT_NS = 3_000_000
_MIN_CWND_SPAN_NS = 1_000_000
_DEFAULT_MSS = 536


@dataclass
class _Side:
    """What one direction's sender has shown so far (unwrapped sequence numbers)."""

    isn: int | None = None
    syn_seen: bool = False
    wscale: int | None = None
    mss: int | None = None
    ref: int | None = None
    nextseq: int | None = None
    nextseq_time: int = 0
    lastack: int | None = None
    lastack_time: int = 0
    window: int | None = None
    dupacks: int = 0
    last_marks: frozenset[str] = frozenset()
    fin_seq: int | None = None
    right_edge: int | None = None  # highest ack + window this side advertised
    max_to_ack: int | None = None  # Wireshark's maxseqtobeacked: highest contiguous seq
    flights: deque[tuple[int, int]] = field(default_factory=deque)

    def unwrap_seq(self, value: int) -> int:
        if self.ref is None:
            self.ref = value
            return value
        self.ref = unwrap(value, self.ref)
        return self.ref


@dataclass
class _Conn:
    trace: ConnectionTrace
    dut: _Side = field(default_factory=_Side)
    peer: _Side = field(default_factory=_Side)
    state: State = State.CLOSED
    mru_syn_ns: int = 0
    first_rtt_ns: int = 0
    inexact_rst_ns: int | None = None


def analyse(path: Path | str, dut_ip: str) -> OracleResult:
    """Read a pcap or pcapng file and analyse every TCP connection of `dut_ip`."""
    segments = []
    for rec in pcapread.read(path):
        if rec.linktype != 1:
            continue
        seg = parse_frame(rec.data, rec.ts_ns, rec.frame_no)
        if seg is not None:
            segments.append(seg)
    return analyse_segments(segments, dut_ip)


def analyse_segments(segments: Iterable[Segment], dut_ip: str) -> OracleResult:
    """Analyse parsed segments in capture order (frame_no and ts_ns must be set)."""
    dut = ipaddress.IPv4Address(dut_ip).packed
    result = OracleResult(dut_ip)
    live: dict[tuple[int, bytes, int], _Conn] = {}
    for seg in segments:
        if seg.src_ip == dut:
            key = (seg.sport, seg.dst_ip, seg.dport)
            from_dut = True
        elif seg.dst_ip == dut:
            key = (seg.dport, seg.src_ip, seg.sport)
            from_dut = False
        else:
            continue
        conn = live.get(key)
        if conn is None or _starts_new(conn, seg, from_dut):
            conn = _Conn(ConnectionTrace(key[0], str(ipaddress.IPv4Address(key[1])), key[2]))
            live[key] = conn
            result.connections.append(conn.trace)
        _process(conn, seg, from_dut)
    return result


def _starts_new(conn: _Conn, seg: Segment, from_dut: bool) -> bool:
    """A SYN (no ACK) with a new ISN after the old connection closed starts another."""
    if seg.flags & (SYN | ACK) != SYN:
        return False
    side = conn.dut if from_dut else conn.peer
    if side.isn is None:
        return False
    same_isn = (seg.seq - side.isn) & 0xFFFFFFFF == 0
    return not same_isn and conn.state in (State.CLOSED, State.TIME_WAIT, State.LISTEN,
                                           State.SYN_SENT, State.SYN_RECEIVED)


def _process(conn: _Conn, seg: Segment, from_dut: bool) -> None:
    fwd, rev = (conn.dut, conn.peer) if from_dut else (conn.peer, conn.dut)
    flags = seg.flags
    now = seg.ts_ns
    opts = seg.options
    if flags & SYN:
        fwd.syn_seen = True
        fwd.isn = seg.seq
        fwd.ref = seg.seq
        fwd.wscale = opts.wscale
        fwd.mss = opts.mss
        names = opts.names()
        if from_dut:
            conn.trace.dut_isn = seg.seq
            conn.trace.dut_syn_options = names
        else:
            conn.trace.peer_isn = seg.seq
            conn.trace.peer_syn_options = names
        if not flags & ACK:
            conn.mru_syn_ns = now
            if conn.trace.dut_is_client is None:
                conn.trace.dut_is_client = from_dut
    elif flags & ACK and conn.mru_syn_ns and not conn.first_rtt_ns:
        conn.first_rtt_ns = now - conn.mru_syn_ns
        conn.trace.handshake_rtt_ns = conn.first_rtt_ns
    if fwd.isn is None:
        fwd.isn = (seg.seq - 1) & 0xFFFFFFFF
        fwd.ref = fwd.isn
    if rev.isn is None and flags & ACK:
        rev.isn = (seg.ack - 1) & 0xFFFFFFFF
        rev.ref = rev.isn
    seq = fwd.unwrap_seq(seg.seq)
    ack = unwrap(seg.ack, rev.ref if rev.ref is not None else seg.ack) if flags & ACK else None
    seglen = len(seg.payload)
    scaled = fwd.wscale is not None and rev.wscale is not None and not flags & SYN
    window = seg.window << (fwd.wscale or 0) if scaled else seg.window

    marks, dup_count = _wireshark_marks(conn, fwd, rev, seq, ack, seglen, flags, window, now)
    violations = _check(conn, seg, from_dut, fwd, rev, seq, ack, seglen, window, marks)

    # bookkeeping after the marks (as Wireshark does)
    nextseq = seq + seglen + (1 if flags & (SYN | FIN) else 0)
    if (fwd.nextseq is None or nextseq > fwd.nextseq) and "zwp" not in marks:
        fwd.nextseq = nextseq
        fwd.nextseq_time = now
    if (fwd.max_to_ack is None or seq == fwd.max_to_ack) and "zwp" not in marks:
        fwd.max_to_ack = fwd.nextseq
    if flags & FIN:
        fwd.fin_seq = seq + seglen
    fwd.window = window
    if ack is not None:
        fwd.lastack = ack
        fwd.lastack_time = now
        edge = ack + window
        if fwd.right_edge is None or edge > fwd.right_edge:
            fwd.right_edge = edge
    fwd.last_marks = frozenset(marks)

    _advance_state(conn, seg, from_dut, seq, ack, seglen)

    flight = 0
    if fwd.nextseq is not None and rev.lastack is not None:
        flight = max(fwd.nextseq - rev.lastack, 0)
    span = max(conn.first_rtt_ns, _MIN_CWND_SPAN_NS)
    fwd.flights.append((now, flight))
    while fwd.flights and fwd.flights[0][0] < now - span:
        fwd.flights.popleft()
    cwnd = max(f for _, f in fwd.flights)

    kind = ""
    if "fast" in marks:
        kind = "fast"
    elif "spurious" in marks:
        kind = "spurious"
    elif "retransmission" in marks:
        kind = "retransmission"
    isn_rev = rev.isn or 0
    sack = tuple(
        ((unwrap(left, isn_rev) - isn_rev), (unwrap(right, isn_rev) - isn_rev))
        for left, right in opts.sack_blocks
    ) if opts.sack_blocks else ()
    row = TraceRow(
        time_ns=now,
        frame_no=seg.frame_no,
        direction="tx" if from_dut else "rx",
        flags=flags_str(flags),
        rel_seq=seq - unwrap(fwd.isn or 0, seq),
        rel_ack=(ack - unwrap(isn_rev, ack)) if ack is not None else 0,
        payload_bytes=seglen,
        window_bytes=window,
        options=opts.names(),
        sack_blocks=sack,
        retransmission=bool(kind),
        retransmission_kind=kind,
        out_of_order="ooo" in marks,
        dup_ack="dupack" in marks,
        dup_ack_count=dup_count,
        bytes_in_flight=flight,
        cwnd_estimate_bytes=cwnd,
        dut_state=conn.state,
        violations=tuple(v.kind for v in violations),
    )
    conn.trace.rows.append(row)
    conn.trace.violations.extend(violations)


def _wireshark_marks(conn: _Conn, fwd: _Side, rev: _Side, seq: int, ack: int | None,
                     seglen: int, flags: int, window: int, now: int) -> tuple[set[str], int]:
    """Wireshark 4.0's tcp_analyze_sequence_number, reduced to the marks we report.

    The order of the checks is Wireshark's: spurious first, then fast retransmission
    (tcp.fastrt_supersedes_ooo is on by default), then out-of-order, whose test counts
    SYN and FIN as one sequence number each (so a resent bare FIN is a retransmission).
    """
    marks: set[str] = set()
    sfr = flags & (SYN | FIN | RST)
    dup_count = 0
    finished = False
    if seglen == 1 and fwd.nextseq is not None and seq == fwd.nextseq and rev.window == 0:
        marks.add("zwp")
        finished = True
    if not finished:
        if (seglen in (0, 1) and fwd.nextseq is not None and seq == fwd.nextseq - 1
                and not sfr):
            marks.add("keepalive")
        same = (seglen == 0 and fwd.nextseq is not None and seq == fwd.nextseq
                and ack == fwd.lastack and not sfr)
        if same and window and window == fwd.window and "keepalive" in rev.last_marks:
            finished = True
        elif same and window == 0 and fwd.window == 0 and "zwp" in rev.last_marks:
            finished = True
        elif same and window and window == fwd.window:
            fwd.dupacks = 1 if fwd.dupacks == -1 else fwd.dupacks + 1
            marks.add("dupack")
            dup_count = fwd.dupacks
    if ack != fwd.lastack:
        fwd.dupacks = 0
    if ack is not None and rev.max_to_ack is not None and ack > rev.max_to_ack:
        # "ACKed segment that wasn't captured": Wireshark resets the other side's
        # duplicate-ACK count to -1, which changes the next fast-retransmission test
        if rev.nextseq is not None and rev.max_to_ack > rev.nextseq:
            rev.max_to_ack = rev.nextseq
        else:
            rev.dupacks = -1
    if (seglen > 0 or flags & (SYN | FIN)) and "keepalive" not in marks:
        not_advanced = fwd.nextseq is not None and seq < fwd.nextseq
        if seglen > 1 and fwd.nextseq is not None and fwd.nextseq - 1 == seq:
            not_advanced = False
        ooo_thres = conn.first_rtt_ns or _OOO_DEFAULT_NS
        seq_space = seglen + (1 if flags & (SYN | FIN) else 0)
        if seglen > 0 and rev.lastack is not None and seq + seglen <= rev.lastack:
            marks.add("spurious")
        elif (not_advanced and rev.dupacks >= 2 and rev.lastack == seq
                and _since(now, rev.lastack_time) < _FAST_WINDOW_NS):
            marks.add("fast")
        elif (not_advanced and _since(now, fwd.nextseq_time) < ooo_thres
              and fwd.nextseq != seq + seq_space):
            marks.add("ooo")
        elif not_advanced:
            marks.add("retransmission")
    return marks, dup_count


def _since(now: int, then: int) -> int:
    """now - then as Wireshark computes it (unsigned): a frame stamped before `then`
    (capture out of time order, or a missing stamp) is never 'recent'."""
    delta = now - then
    return delta if delta >= 0 else 1 << 64


def _check(conn: _Conn, seg: Segment, from_dut: bool, fwd: _Side, rev: _Side, seq: int,
           ack: int | None, seglen: int, window: int, marks: set[str]) -> list[Violation]:
    """Rule checks on segments the DUT sends (and on its reaction to RSTs)."""
    found: list[Violation] = []
    frame, now = seg.frame_no, seg.ts_ns

    def flag(kind: str, detail: str) -> None:
        found.append(Violation(kind, frame, now, detail))

    if not from_dut:
        if seg.flags & RST and conn.state not in (State.SYN_SENT, State.CLOSED):
            expected = conn.dut.lastack
            if expected is not None and seq != expected:
                conn.inexact_rst_ns = now
        return found
    flags = seg.flags
    if seglen and rev.right_edge is not None and "zwp" not in marks:
        end = seq + seglen
        if end > rev.right_edge and not (seglen == 1 and rev.window == 0):
            flag("beyond_window", f"data ends {end - rev.right_edge} bytes beyond the "
                                  f"receiver's window")
    if seglen and not flags & SYN:
        mss = rev.mss if rev.mss is not None else _DEFAULT_MSS
        opt_len = len(seg.options_raw)
        if rev.syn_seen and seglen + opt_len > mss:
            flag("above_mss", f"payload {seglen} + options {opt_len} > MSS {mss}")
    if ack is not None and rev.nextseq is not None and ack > rev.nextseq:
        flag("ack_unsent_data", f"ack is {ack - rev.nextseq} beyond what the peer sent")
    if flags & RST:
        ok_points = {p for p in (rev.lastack, rev.nextseq) if p is not None}
        if ok_points and seq not in ok_points and not (
                rev.lastack is not None and rev.window is not None
                and rev.lastack <= seq <= rev.lastack + rev.window):
            flag("rst_bad_seq", "RST sequence number outside the peer's window")
        if conn.inexact_rst_ns is not None:
            flag("rst_accepted_inexact", "the DUT reset after an inexact (in-window, not "
                                         "RCV.NXT) RST instead of a challenge ACK")
    if "spurious" in marks:
        flag("spurious_retransmission", "retransmitted data the peer had already ACKed")
    if seglen and fwd.fin_seq is not None and seq + seglen > fwd.fin_seq and not flags & FIN:
        flag("data_after_fin", "data beyond the DUT's own FIN")
    if not flags & RST and not seglen and conn.inexact_rst_ns is not None:
        conn.inexact_rst_ns = None  # challenge ACK: handled correctly
    return found


def _set(conn: _Conn, seg: Segment, state: State) -> None:
    if conn.state is not state:
        conn.state = state
        conn.trace.timeline.append(StateChange(seg.ts_ns, seg.frame_no, state))


def _advance_state(conn: _Conn, seg: Segment, from_dut: bool, seq: int, ack: int | None,
                   seglen: int) -> None:
    flags = seg.flags
    st = conn.state
    dut = conn.dut
    if not conn.trace.timeline:
        conn.trace.timeline.append(StateChange(seg.ts_ns, seg.frame_no, State.CLOSED))
    if from_dut:
        if flags & RST:
            _set(conn, seg, State.CLOSED)
        elif flags & SYN and not flags & ACK:
            if st in (State.CLOSED, State.LISTEN):
                _set(conn, seg, State.SYN_SENT)
        elif flags & SYN:
            if st in (State.CLOSED, State.LISTEN, State.SYN_SENT):
                _set(conn, seg, State.SYN_RECEIVED)
        elif flags & FIN:
            if st in (State.ESTABLISHED, State.SYN_RECEIVED):
                _set(conn, seg, State.FIN_WAIT_1)
            elif st is State.CLOSE_WAIT:
                _set(conn, seg, State.LAST_ACK)
        return
    # a segment the DUT receives
    if flags & RST:
        if st is State.SYN_SENT:
            if ack is not None and dut.isn is not None and ack == unwrap(dut.isn, ack) + 1:
                _set(conn, seg, State.CLOSED)
        elif st not in (State.CLOSED, State.LISTEN) and (
                dut.lastack is None or seq == dut.lastack):
            _set(conn, seg, State.CLOSED)
        return
    if flags & SYN:
        if not flags & ACK:
            if st is State.SYN_SENT:
                _set(conn, seg, State.SYN_RECEIVED)
            elif st is State.CLOSED:
                _set(conn, seg, State.LISTEN)
        elif st is State.SYN_SENT and ack is not None and dut.isn is not None and \
                ack == unwrap(dut.isn, ack) + 1:
            _set(conn, seg, State.ESTABLISHED)
        elif st is State.SYN_RECEIVED and ack is not None and dut.isn is not None and \
                ack == unwrap(dut.isn, ack) + 1:
            _set(conn, seg, State.ESTABLISHED)
        return
    fin_acked = (ack is not None and dut.fin_seq is not None and ack > dut.fin_seq)
    if st is State.SYN_RECEIVED and ack is not None and dut.isn is not None and \
            ack >= unwrap(dut.isn, ack) + 1:
        _set(conn, seg, State.ESTABLISHED)
        st = conn.state
    fin = bool(flags & FIN)
    if st is State.FIN_WAIT_1 and fin_acked and not fin:
        _set(conn, seg, State.FIN_WAIT_2)
    elif st is State.CLOSING and fin_acked:
        _set(conn, seg, State.TIME_WAIT)
    elif st is State.LAST_ACK and fin_acked:
        _set(conn, seg, State.CLOSED)
    if fin:
        st = conn.state
        if st is State.ESTABLISHED:
            _set(conn, seg, State.CLOSE_WAIT)
        elif st is State.FIN_WAIT_1:
            _set(conn, seg, State.TIME_WAIT if fin_acked else State.CLOSING)
        elif st is State.FIN_WAIT_2:
            _set(conn, seg, State.TIME_WAIT)
