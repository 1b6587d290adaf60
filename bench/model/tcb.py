"""The transmission control block: RFC 9293's event processing for one connection.

Runs on the link's I/O thread (or a unit test's fake environment); it never touches a
socket or a clock itself, only its `TcbEnv`. Sequence numbers are unwrapped ints (see
`seq`); the 32-bit wire values appear only in `Segment`s.

Implemented: all eleven states; RFC 5961 (exact-match RST, challenge ACK for in-window
RST and any SYN in a synchronized state, ACK range check); MSS, window scale, SACK
(receiver reports blocks, most recent first; the sender keeps a scoreboard),
timestamps with PAWS (RFC 7323); RTO per RFC 6298 with Karn's rule and exponential
backoff; NewReno (RFC 5681/6582), and with SACK a scoreboard so that recovery resends
only the holes the receiver reports (RFC 6675, simplified); delayed ACK; receiver and
sender silly-window avoidance; persist timer with 1-byte zero-window probes; TIME_WAIT
of `time_wait_s`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Protocol

from bench.model import options as opt
from bench.model.config import ConnOptions
from bench.model.congestion import NewReno
from bench.model.rto import RtoEstimator
from bench.model.sack import Scoreboard
from bench.model.segment import ACK, FIN, PSH, RST, SYN, Segment
from bench.model.seq import unwrap, wrap
from bench.model.states import State

_SEND_STATES = frozenset({State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1,
                          State.CLOSING, State.LAST_ACK})
_RECV_DATA_STATES = frozenset({State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2})
_DEFAULT_PEER_MSS = 536  # RFC 9293 section 3.7.1, IPv4


class TimerLike(Protocol):
    def cancel(self) -> None: ...


class TcbEnv(Protocol):
    """What a TCB needs from its surroundings (the Peer, or a test double)."""

    def now_ns(self) -> int: ...

    def transmit(self, tcb: Tcb, seg: Segment) -> None: ...

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> TimerLike: ...

    def on_established(self, tcb: Tcb) -> None: ...

    def on_closed(self, tcb: Tcb) -> None: ...


class TcpError(RuntimeError):
    """The connection failed: reset, refused, timed out or aborted."""


class Tcb:
    def __init__(self, env: TcbEnv, local: tuple[bytes, int], remote: tuple[bytes, int],
                 options: ConnOptions | None = None) -> None:
        self.env = env
        self.local = local
        self.remote = remote
        self.opts = options or ConnOptions()
        self.state = State.CLOSED
        self.passive = False
        self.error: str | None = None
        self.history: list[State] = [State.CLOSED]
        # send side (unwrapped sequence numbers)
        self.iss = 0
        self.snd_una = self.snd_nxt = self.snd_max = 0
        self.snd_wnd = 0
        self.max_snd_wnd = 0
        self.snd_wl1 = self.snd_wl2 = 0
        self.sndbuf = bytearray()
        self.snd_buf_seq = 0
        self.fin_queued = False
        self.fin_seq: int | None = None
        # receive side
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0
        self.rcvbuf = bytearray()
        self.ooo: dict[int, bytes] = {}
        self.rcv_fin_seq: int | None = None
        self.eof = False
        # negotiated options
        self.peer_mss = _DEFAULT_PEER_MSS
        self.smss = _DEFAULT_PEER_MSS
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.sack_ok = False
        self.ts_ok = False
        self.ts_recent = 0
        self.ts_offset = secrets.randbelow(1 << 32)
        self.last_ack_sent = 0
        self.peer_syn_options: opt.TcpOptions | None = None
        self.scoreboard = Scoreboard()
        self.rexmit_high = 0  # RFC 6675 HighRxt + 1: holes below it were resent
        self._ooo_rank: dict[int, int] = {}  # out-of-order start -> arrival number
        self._ooo_arrivals = 0
        # timers, RTT, congestion
        self.rto = RtoEstimator(self.opts.rto_initial_s, self.opts.rto_min_s,
                                self.opts.rto_max_s)
        self.cc = NewReno(self._initial_smss(), self.opts.initial_cwnd_bytes)
        self.retries = 0
        self.timed_seq: int | None = None
        self.timed_ns = 0
        self._rtx_timer: TimerLike | None = None
        self._persist_timer: TimerLike | None = None
        self._persist_backoffs = 0
        self._delack_timer: TimerLike | None = None
        self._tw_timer: TimerLike | None = None
        self._segs_unacked = 0
        self._ack_now = False
        # test controls
        self.withhold_acks = False
        self.forced_window: int | None = None
        # counters
        self.retransmitted_segments = 0
        self.bytes_delivered = 0

    # ----------------------------------------------------------------- helpers
    def _initial_smss(self) -> int:
        return min(self.opts.mss_bytes or _DEFAULT_PEER_MSS, self.opts.mtu_bytes - 40)

    def _set_state(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            self.history.append(state)

    def _choose_iss(self) -> int:
        return self.opts.iss if self.opts.iss is not None else secrets.randbelow(1 << 32)

    def _tsval(self) -> int:
        return (self.env.now_ns() // 1_000_000 + self.ts_offset) & 0xFFFFFFFF

    @property
    def data_end(self) -> int:
        return self.snd_buf_seq + len(self.sndbuf)

    @property
    def flight_bytes(self) -> int:
        return self.snd_max - self.snd_una

    # ------------------------------------------------------------- user calls
    def open_active(self) -> None:
        """OPEN (active): send SYN, enter SYN_SENT."""
        self.iss = self._choose_iss()
        self.snd_una = self.iss
        self.snd_nxt = self.snd_max = self.iss + 1
        self.snd_buf_seq = self.iss + 1
        self._set_state(State.SYN_SENT)
        self.timed_seq = self.iss
        self.timed_ns = self.env.now_ns()
        self._send_syn()
        self._arm_rtx()

    def open_passive(self) -> None:
        """OPEN (passive): LISTEN for one SYN (the Peer makes one TCB per SYN)."""
        self.passive = True
        self._set_state(State.LISTEN)

    def user_send(self, data: bytes) -> None:
        if self.state in (State.CLOSED, State.LISTEN):
            raise TcpError(f"connection does not exist ({self.error or self.state})")
        if self.fin_queued:
            raise TcpError("connection closing: send after shutdown")
        self.sndbuf += data
        self.flush()

    def user_recv(self, max_bytes: int) -> bytes:
        """Take up to `max_bytes` of in-order data; may send a window update."""
        if not self.rcvbuf:
            return b""
        chunk = bytes(self.rcvbuf[:max_bytes])
        del self.rcvbuf[:max_bytes]
        gain = self._free_window() - (self.rcv_adv - self.rcv_nxt)
        if self.state in _RECV_DATA_STATES and self.forced_window is None and (
                gain >= min(self.opts.window_bytes // 2, 2 * self.smss)):
            self._ack_now = True
            self.flush()
        return chunk

    def user_close(self) -> None:
        """CLOSE: the FIN goes after queued data (RFC 9293 section 3.10.4)."""
        st = self.state
        if st in (State.LISTEN, State.SYN_SENT):
            self._to_closed("closed")
            return
        if st in (State.CLOSED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSING,
                  State.LAST_ACK, State.TIME_WAIT) or self.fin_queued:
            return
        self.fin_queued = True
        self.fin_seq = self.data_end
        if st is State.ESTABLISHED:
            self._set_state(State.FIN_WAIT_1)
        elif st is State.CLOSE_WAIT:
            self._set_state(State.LAST_ACK)
        # SYN_RECEIVED: FIN waits for ESTABLISHED
        self.flush()

    def user_abort(self) -> None:
        """ABORT: RST in synchronized states and SYN_RECEIVED, then CLOSED."""
        if self.state not in (State.CLOSED, State.LISTEN, State.SYN_SENT, State.TIME_WAIT):
            self._emit(self.snd_nxt, RST | ACK)
        self._to_closed("aborted")

    def set_window(self, window_bytes: int | None) -> None:
        """Advertise exactly `window_bytes` (0: zero window) until set back to None."""
        self.forced_window = window_bytes
        if self.state in _RECV_DATA_STATES or self.state is State.CLOSE_WAIT:
            self._ack_now = True
            self.flush()

    # --------------------------------------------------------- segment arrives
    def input(self, seg: Segment) -> None:
        """Process one segment and send whatever it calls for (tests use this)."""
        self.segment_arrives(seg)
        self.flush()

    def segment_arrives(self, seg: Segment) -> None:
        st = self.state
        if st is State.LISTEN:
            self._listen_input(seg)
        elif st is State.SYN_SENT:
            self._syn_sent_input(seg)
        elif st is not State.CLOSED:
            self._sync_input(seg)

    def _negotiate(self, syn: Segment) -> None:
        o = syn.options
        self.peer_syn_options = o
        mine = self.opts
        self.peer_mss = o.mss if o.mss is not None else _DEFAULT_PEER_MSS
        if mine.wscale is not None and o.wscale is not None:
            self.snd_wscale = min(o.wscale, 14)
            self.rcv_wscale = min(mine.wscale, 14)
        self.sack_ok = mine.sack_permitted and o.sack_permitted
        self.ts_ok = mine.timestamps and o.timestamp is not None
        if self.ts_ok and o.timestamp is not None:
            self.ts_recent = o.timestamp[0]
        smss = min(self.peer_mss, mine.mtu_bytes - 40)
        if self.ts_ok:
            smss -= 12
        self.smss = max(smss, 1)
        self.cc = NewReno(self.smss, mine.initial_cwnd_bytes)

    def _listen_input(self, seg: Segment) -> None:
        flags = seg.flags
        if flags & RST:
            return
        if flags & ACK:
            self._send_rst(seg.ack, 0, ack=False)
            return
        if not flags & SYN:
            return
        self.irs = seg.seq
        self.rcv_nxt = seg.seq + 1
        self.rcv_adv = self.rcv_nxt
        self._negotiate(seg)
        self.iss = self._choose_iss()
        self.snd_una = self.iss
        self.snd_nxt = self.snd_max = self.iss + 1
        self.snd_buf_seq = self.iss + 1
        self.snd_wnd = self.max_snd_wnd = seg.window
        self.snd_wl1, self.snd_wl2 = seg.seq, self.iss
        self._set_state(State.SYN_RECEIVED)
        self._send_syn()
        self._arm_rtx()

    def _syn_sent_input(self, seg: Segment) -> None:
        flags = seg.flags
        ack = 0
        if flags & ACK:
            ack = unwrap(seg.ack, self.snd_una)
            if ack <= self.iss or ack > self.snd_max:
                if not flags & RST:
                    self._send_rst(seg.ack, 0, ack=False)
                return
        if flags & RST:
            if flags & ACK:
                self._to_closed("refused")
            return
        if not flags & SYN:
            return
        self.irs = seg.seq
        self.rcv_nxt = seg.seq + 1
        self.rcv_adv = self.rcv_nxt
        self._negotiate(seg)
        self.snd_wnd = self.max_snd_wnd = seg.window
        self.snd_wl1 = seg.seq
        if flags & ACK:
            self.snd_wl2 = ack
            self._ack_advance(ack)
            self._set_state(State.ESTABLISHED)
            self._ack_now = True
            self.env.on_established(self)
        else:
            self.snd_wl2 = self.snd_una
            self._set_state(State.SYN_RECEIVED)
            self._send_syn()
            self._arm_rtx()

    def _acceptable(self, seq: int, seg_len: int, wnd: int) -> bool:
        nxt = self.rcv_nxt
        if seg_len == 0:
            return seq == nxt if wnd == 0 else nxt <= seq < nxt + wnd
        if wnd == 0:
            return False
        end = seq + seg_len - 1
        return nxt <= seq < nxt + wnd or nxt <= end < nxt + wnd

    def _sync_input(self, seg: Segment) -> None:
        flags = seg.flags
        seq = unwrap(seg.seq, self.rcv_nxt)
        payload = seg.payload
        fin = bool(flags & FIN)
        seg_len = len(payload) + (1 if flags & SYN else 0) + fin
        ts = opt.timestamp_only(seg.options_raw) if self.ts_ok and seg.options_raw else None
        # RFC 7323 PAWS
        if (ts is not None and self.opts.paws and not flags & RST
                and ((ts[0] - self.ts_recent) & 0xFFFFFFFF) >= 1 << 31):
            self._send_ack_now()
            return
        wnd = self._rcv_wnd()
        if not self._acceptable(seq, seg_len, wnd):
            if wnd == 0 and seq == self.rcv_nxt and seg_len > 0 and not flags & SYN:
                payload, fin, seg_len = b"", False, 0  # keep the ACK, drop the text
                self._ack_now = True
            else:
                if not flags & RST:
                    if self.state is State.TIME_WAIT and fin:
                        self._start_time_wait()
                    self._send_ack_now()
                return
        if flags & RST:
            if seq != self.rcv_nxt:
                if self.opts.challenge_acks:
                    self._send_ack_now()
                return
            if self.state is State.SYN_RECEIVED and self.passive:
                self._back_to_listen()
            else:
                self._to_closed("reset" if self.state is not State.SYN_RECEIVED else "refused")
            return
        if flags & SYN:
            if self.state is State.SYN_RECEIVED and self.passive:
                self._back_to_listen()
                return
            if self.opts.challenge_acks:
                self._send_ack_now()
            else:
                self._send_rst(seg.ack, 0, ack=False)
                self._to_closed("reset")
            return
        if not flags & ACK:
            return
        if self.state is State.SYN_RECEIVED:
            ack = unwrap(seg.ack, self.snd_una)
            if not self.snd_una < ack <= self.snd_max:
                self._send_rst(seg.ack, 0, ack=False)
                return
            self._set_state(State.ESTABLISHED)
            self.snd_wnd = seg.window << self.snd_wscale
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
            self.snd_wl1, self.snd_wl2 = seq, ack
            self.env.on_established(self)
            if self.fin_queued:
                self._set_state(State.FIN_WAIT_1)
        if not self._process_ack(seg, seq, len(payload) + fin):
            return
        st = self.state
        fin_acked = self.fin_seq is not None and self.snd_una > self.fin_seq
        if st is State.FIN_WAIT_1 and fin_acked:
            self._set_state(State.FIN_WAIT_2)
        elif st is State.CLOSING and fin_acked:
            self._start_time_wait()
        elif st is State.LAST_ACK and fin_acked:
            self._to_closed(None)
            return
        if ts is not None and seq <= self.last_ack_sent:
            self.ts_recent = ts[0]
        if (payload or fin) and self.state in _RECV_DATA_STATES:
            self._receive(seq, payload, fin)

    def _back_to_listen(self) -> None:
        self._cancel_timers()
        self._set_state(State.LISTEN)
        self.error = "reset in SYN_RECEIVED"
        self.env.on_closed(self)

    # ------------------------------------------------------------ ACK handling
    def _process_ack(self, seg: Segment, seq: int, text_len: int) -> bool:
        ack = unwrap(seg.ack, self.snd_una)
        if ack > self.snd_max:
            self._send_ack_now()
            return False
        if ack < self.snd_una - max(self.max_snd_wnd, 1) and self.opts.challenge_acks:
            self._send_ack_now()
            return False
        window = seg.window << self.snd_wscale
        if self.sack_ok and len(seg.options_raw) > (12 if self.ts_ok else 0):
            self._note_sack(seg, ack)
        if ack > self.snd_una:
            flight_before = self.snd_max - self.snd_una
            acked = ack - self.snd_una
            self._ack_advance(ack)
            self.scoreboard.advance(ack)
            sack = bool(self.scoreboard) and self.cc.in_recovery
            if self.cc.on_ack(ack, acked, max(flight_before - acked, 0), sack):
                if sack:
                    self._sack_retransmit()
                else:
                    self._retransmit_first()
                self._arm_rtx(restart=True)
        elif (ack == self.snd_una and text_len == 0 and not seg.flags & (SYN | FIN)
              and window == self.snd_wnd and self.snd_max > self.snd_una):
            sack = bool(self.scoreboard)
            was_in_recovery = self.cc.in_recovery
            if self.cc.on_dupack(self.snd_una, self.snd_max, sack):
                self.timed_seq = None
                if sack:
                    self.rexmit_high = self.snd_una
                    self._sack_retransmit(first=True)
                else:
                    self._retransmit_first()
            elif was_in_recovery and sack:
                self._sack_retransmit()
        if self.snd_wl1 < seq or (self.snd_wl1 == seq and self.snd_wl2 <= ack):
            opened = self.snd_wnd == 0 and window > 0
            self.snd_wnd = window
            self.max_snd_wnd = max(self.max_snd_wnd, window)
            self.snd_wl1, self.snd_wl2 = seq, ack
            if opened:
                self._stop_persist()
        return True

    def _note_sack(self, seg: Segment, ack: int) -> None:
        """Record the SACK blocks an ACK carries on the scoreboard (unwrapped)."""
        blocks = seg.options.sack_blocks
        if not blocks:
            return
        base = max(ack, self.snd_una)
        self.scoreboard.update(((unwrap(left, base), unwrap(right, base))
                                for left, right in blocks), base, self.snd_max)

    def _ack_advance(self, ack: int) -> None:
        """SND.UNA moves to `ack`: free sent data, take an RTT sample (Karn), timers."""
        cut = min(ack, self.data_end) - self.snd_buf_seq
        if cut > 0:
            del self.sndbuf[:cut]
            self.snd_buf_seq += cut
        if self.timed_seq is not None and ack > self.timed_seq:
            self.rto.sample((self.env.now_ns() - self.timed_ns) / 1e9)
            self.timed_seq = None
        self.snd_una = ack
        if self.snd_nxt < ack:
            self.snd_nxt = ack
        self.retries = 0
        self.rto.reset_backoff()
        if self.snd_una >= self.snd_max:
            self._cancel(self._rtx_timer)
            self._rtx_timer = None
        else:
            self._arm_rtx(restart=True)

    # ------------------------------------------------------------ receiving
    def _free_window(self) -> int:
        return max(self.opts.window_bytes - len(self.rcvbuf), 0)

    def _rcv_wnd(self) -> int:
        if self.forced_window is not None:
            return self.forced_window
        return max(self.rcv_adv - self.rcv_nxt, 0)

    def _receive(self, seq: int, payload: bytes, fin: bool) -> None:
        nxt = self.rcv_nxt
        if seq < nxt:
            cut = nxt - seq
            if cut >= len(payload):
                payload = b""
            else:
                payload = payload[cut:]
            seq = nxt
        right = nxt + self._rcv_wnd()
        if seq + len(payload) > right:
            payload = payload[:max(right - seq, 0)]
            fin = False
        end = seq + len(payload)
        if fin and self.rcv_fin_seq is None:
            self.rcv_fin_seq = end
        if payload:
            if seq == nxt:
                self.rcvbuf += payload
                self.rcv_nxt = end
                self.bytes_delivered += len(payload)
                self._segs_unacked += 1
                if self.ooo:
                    self._drain_ooo()
                    self._ack_now = True
                elif not self.opts.coalesce_acks and (
                        self._segs_unacked >= self.opts.ack_every_segments):
                    self._ack_now = True
            else:
                prev = self.ooo.get(seq)
                if prev is None or len(prev) < len(payload):
                    self.ooo[seq] = payload
                self._ooo_arrivals += 1
                self._ooo_rank[seq] = self._ooo_arrivals
                self._send_ack_now()
        if self.rcv_fin_seq is not None and self.rcv_nxt == self.rcv_fin_seq:
            self.rcv_nxt += 1
            self.eof = True
            self._ack_now = True
            st = self.state
            if st is State.ESTABLISHED:
                self._set_state(State.CLOSE_WAIT)
            elif st is State.FIN_WAIT_1:
                fin_acked = self.fin_seq is not None and self.snd_una > self.fin_seq
                if fin_acked:
                    self._start_time_wait()
                else:
                    self._set_state(State.CLOSING)
            elif st is State.FIN_WAIT_2:
                self._start_time_wait()

    def _drain_ooo(self) -> None:
        for start in sorted(self.ooo):
            if start > self.rcv_nxt:
                break
            data = self.ooo.pop(start)
            self._ooo_rank.pop(start, None)
            end = start + len(data)
            if end > self.rcv_nxt:
                fresh = data[self.rcv_nxt - start:]
                self.rcvbuf += fresh
                self.bytes_delivered += len(fresh)
                self.rcv_nxt = end

    def sack_blocks(self) -> list[tuple[int, int]]:
        """Out-of-order ranges, most recently changed first (RFC 2018 section 4: the
        first block holds the segment that arrived last, the others repeat the most
        recently reported ones), as many as fit beside the other options."""
        spans: list[list[int]] = []  # [start, end, rank of its latest arrival]
        rank = self._ooo_rank
        for start in sorted(self.ooo):
            end = start + len(self.ooo[start])
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
                spans[-1][2] = max(spans[-1][2], rank.get(start, 0))
            else:
                spans.append([start, end, rank.get(start, 0)])
        spans.sort(key=lambda span: -span[2])
        return [(start, end) for start, end, _ in spans][: 3 if self.ts_ok else 4]

    # -------------------------------------------------------------- sending
    def flush(self) -> None:
        """Send what the last events call for: data the windows allow, then an ACK if
        one is due and nothing carried it, else arm the delayed-ACK timer."""
        if self.state in _SEND_STATES:
            self._output()
        if self.state not in _RECV_DATA_STATES and self.state not in (
                State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            return
        if self._ack_now or (self._segs_unacked and (
                self._segs_unacked >= self.opts.ack_every_segments
                or self.opts.delayed_ack_s <= 0)):
            self._send_ack_now()
        elif self._segs_unacked and self._delack_timer is None:
            self._delack_timer = self.env.call_later(self.opts.delayed_ack_s, self._on_delack)

    def _output(self) -> None:
        smss = self.smss
        data_end = self.data_end
        while True:
            nxt = self.snd_nxt
            if nxt < data_end:
                usable = self.snd_una + min(self.snd_wnd, self.cc.cwnd) - nxt
                length = min(smss, data_end - nxt)
                if usable < length:
                    if usable <= 0 or (usable < smss and usable < self.max_snd_wnd // 2):
                        break
                    length = usable
                off = nxt - self.snd_buf_seq
                payload = bytes(self.sndbuf[off:off + length])
                last = nxt + length == data_end
                fin = self.fin_queued and last
                flags = ACK | (PSH if last else 0) | (FIN if fin else 0)
                if nxt < self.snd_max:
                    self.retransmitted_segments += 1
                elif self.timed_seq is None:
                    self.timed_seq = nxt
                    self.timed_ns = self.env.now_ns()
                self._emit(nxt, flags, payload)
                self.snd_nxt = nxt + length + fin
            elif self.fin_queued and nxt == data_end:
                if nxt < self.snd_max:
                    self.retransmitted_segments += 1
                self._emit(nxt, FIN | ACK)
                self.snd_nxt = nxt + 1
            else:
                break
            if self.snd_nxt > self.snd_max:
                self.snd_max = self.snd_nxt
        self._arm_send_timers()

    def _arm_send_timers(self) -> None:
        unsent = self.snd_nxt < self.data_end
        if self.snd_wnd == 0 and unsent and self.snd_max - self.snd_una <= 1:
            self._cancel(self._rtx_timer)
            self._rtx_timer = None
            if self._persist_timer is None:
                delay = min(self.rto.rto_s * (2 ** self._persist_backoffs),
                            self.opts.persist_max_s)
                self._persist_timer = self.env.call_later(delay, self._on_persist)
        elif self.snd_max > self.snd_una:
            self._arm_rtx()

    def _retransmit_first(self) -> None:
        """Resend the segment at SND.UNA (fast retransmit, partial ACK)."""
        una = self.snd_una
        data_end = self.data_end
        self.retransmitted_segments += 1
        if una < data_end:
            length = min(self.smss, data_end - una)
            off = una - self.snd_buf_seq
            last = una + length == data_end
            fin = self.fin_queued and last and self.snd_max > data_end
            self._emit(una, ACK | (FIN if fin else 0) | (PSH if last else 0),
                       bytes(self.sndbuf[off:off + length]))
        elif self.fin_queued and una == data_end:
            self._emit(una, FIN | ACK)

    def _sack_retransmit(self, first: bool = False) -> None:
        """RFC 6675 section 5 (NextSeg rule 1 only): resend the holes below the highest
        SACKed byte, one SMSS at a time, while the estimated pipe leaves room in cwnd;
        on entering recovery the first hole goes out regardless."""
        board = self.scoreboard
        high = board.high
        while high is not None:
            hole = board.next_hole(max(self.rexmit_high, self.snd_una))
            if hole is None:
                break
            pipe = (self.snd_max - high) + board.unsacked_bytes(self.snd_una,
                                                                self.rexmit_high)
            if not first and pipe + self.smss > self.cc.cwnd:
                break
            first = False
            start = hole[0]
            length = min(self.smss, hole[1] - start, self.data_end - start)
            if length <= 0:
                break
            off = start - self.snd_buf_seq
            last = start + length == self.data_end
            self.retransmitted_segments += 1
            self.timed_seq = None
            self._emit(start, ACK | (PSH if last else 0),
                       bytes(self.sndbuf[off:off + length]))
            self.rexmit_high = start + length

    def _send_syn(self) -> None:
        flags = SYN | (ACK if self.state is State.SYN_RECEIVED else 0)
        self._emit(self.iss, flags)

    def _send_ack_now(self) -> None:
        if self.withhold_acks:
            self._segs_unacked = 0
            self._ack_now = False
            return
        self._emit(self.snd_nxt, ACK)

    def _send_rst(self, seq32: int, ack32: int, ack: bool) -> None:
        seg = Segment(self.local[0], self.remote[0], self.local[1], self.remote[1],
                      seq32 & 0xFFFFFFFF, ack32 & 0xFFFFFFFF, RST | (ACK if ack else 0), 0,
                      direction="out")
        self.env.transmit(self, seg)

    def _window_field(self, syn: bool) -> int:
        if self.forced_window is not None:
            wnd = self.forced_window
        else:
            free = self._free_window()
            if free < min(self.opts.window_bytes // 2, self.smss):
                free = 0  # receiver SWS avoidance (RFC 9293 3.8.6.2.2)
            wnd = max(free, self.rcv_adv - self.rcv_nxt)
        if syn:
            field = min(wnd, 0xFFFF)
            scaled = field
        else:
            shift = self.rcv_wscale
            field = wnd >> shift
            if self.forced_window is None and (field << shift) < self.rcv_adv - self.rcv_nxt:
                field += 1
            field = min(field, 0xFFFF)
            scaled = field << shift
        if self.forced_window is None:
            self.rcv_adv = max(self.rcv_adv, self.rcv_nxt + scaled)
        else:
            self.rcv_adv = self.rcv_nxt + scaled
        return field

    def _emit(self, seq: int, flags: int, payload: bytes = b"") -> None:
        syn = bool(flags & SYN)
        if syn:
            mine = self.opts
            answering = self.state is State.SYN_RECEIVED and self.peer_syn_options is not None
            ts = None
            if mine.timestamps and (not answering or self.ts_ok):
                ts = (self._tsval(), self.ts_recent if answering else 0)
            options_raw = opt.build(
                mss=mine.mss_bytes,
                sack_permitted=mine.sack_permitted and (not answering or self.sack_ok),
                timestamp=ts,
                wscale=mine.wscale if (not answering or (
                    self.peer_syn_options is not None
                    and self.peer_syn_options.wscale is not None)) else None,
            )
        elif self.ts_ok:
            if self.sack_ok and self.ooo and flags & ACK:
                options_raw = opt.build(timestamp=(self._tsval(), self.ts_recent),
                                        sack_blocks=[(wrap(s), wrap(e)) for s, e in
                                                     self.sack_blocks()])
            else:
                options_raw = opt.timestamp_bytes(self._tsval(), self.ts_recent)
        elif self.sack_ok and self.ooo and flags & ACK:
            options_raw = opt.build(sack_blocks=[(wrap(s), wrap(e)) for s, e in
                                                 self.sack_blocks()])
        else:
            options_raw = b""
        ack_val = 0
        if flags & ACK:
            ack_val = wrap(self.rcv_nxt)
            self.last_ack_sent = self.rcv_nxt
            self._segs_unacked = 0
            self._ack_now = False
            if self._delack_timer is not None:
                self._delack_timer.cancel()
                self._delack_timer = None
        seg = Segment(self.local[0], self.remote[0], self.local[1], self.remote[1],
                      wrap(seq), ack_val, flags, self._window_field(syn), options_raw,
                      payload, direction="out")
        self.env.transmit(self, seg)

    # ----------------------------------------------------------------- timers
    @staticmethod
    def _cancel(timer: TimerLike | None) -> None:
        if timer is not None:
            timer.cancel()

    def _arm_rtx(self, restart: bool = False) -> None:
        if self._rtx_timer is not None:
            if not restart:
                return
            self._rtx_timer.cancel()
        self._rtx_timer = self.env.call_later(self.rto.rto_s, self._on_rto)

    def _on_rto(self) -> None:
        self._rtx_timer = None
        st = self.state
        if st in (State.SYN_SENT, State.SYN_RECEIVED):
            self.retries += 1
            if self.retries > self.opts.syn_retries:
                self._to_closed("timeout")
                return
            self.rto.back_off()
            self.rto.syn_lost()
            self.timed_seq = None
            self.retransmitted_segments += 1
            self._send_syn()
            self._arm_rtx()
            return
        if self.snd_max <= self.snd_una or st not in _SEND_STATES:
            return
        self.retries += 1
        if self.retries > self.opts.max_retries:
            self._to_closed("timeout")
            return
        self.cc.on_timeout(self.snd_max - self.snd_una, self.snd_max)
        self.scoreboard.clear()  # RFC 6675 section 5.1: after an RTO, resend from SND.UNA
        self.rto.back_off()
        self.timed_seq = None
        self.snd_nxt = self.snd_una
        self._arm_rtx()
        self.flush()

    def _on_persist(self) -> None:
        self._persist_timer = None
        if self.state not in _SEND_STATES or self.snd_wnd > 0:
            self.flush()
            return
        una = self.snd_una
        if una < self.data_end:
            off = una - self.snd_buf_seq
            self._emit(una, ACK, bytes(self.sndbuf[off:off + 1]))
            if self.snd_nxt == una:
                self.snd_nxt = una + 1
                self.snd_max = max(self.snd_max, self.snd_nxt)
        self._persist_backoffs += 1
        self._arm_send_timers()

    def _stop_persist(self) -> None:
        self._cancel(self._persist_timer)
        self._persist_timer = None
        self._persist_backoffs = 0

    def _on_delack(self) -> None:
        self._delack_timer = None
        if self._segs_unacked:
            self._send_ack_now()

    def _start_time_wait(self) -> None:
        self._cancel_timers()
        self._set_state(State.TIME_WAIT)
        self._tw_timer = self.env.call_later(self.opts.time_wait_s, self._on_time_wait)

    def _on_time_wait(self) -> None:
        self._tw_timer = None
        self._to_closed(None)

    def _cancel_timers(self) -> None:
        for timer in (self._rtx_timer, self._persist_timer, self._delack_timer,
                      self._tw_timer):
            self._cancel(timer)
        self._rtx_timer = self._persist_timer = self._delack_timer = self._tw_timer = None

    def _to_closed(self, reason: str | None) -> None:
        self._cancel_timers()
        if reason is not None and self.error is None:
            self.error = reason
        self._set_state(State.CLOSED)
        self.env.on_closed(self)
