"""The socket-like handle of one model connection, safe to use from any thread.

Every call takes the peer's lock (the I/O thread holds it while it processes frames and
timers) and waits on the peer's condition, so state is never read half-updated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.model import options as opt
from bench.model.pattern import SegmentPattern, Tolerance
from bench.model.segment import Segment, flags_from
from bench.model.seq import wrap
from bench.model.states import State
from bench.model.tcb import Tcb, TcpError

if TYPE_CHECKING:
    from bench.model.peer import Match, Peer


@dataclass(frozen=True)
class ConnInfo:
    """A snapshot of the connection's variables (sequence numbers relative to ISNs)."""

    state: State
    error: str | None
    snd_una: int
    snd_nxt: int
    snd_max: int
    snd_wnd_bytes: int
    rcv_nxt: int
    rcv_wnd_bytes: int
    cwnd_bytes: int
    ssthresh_bytes: int
    rto_s: float
    srtt_s: float | None
    smss_bytes: int
    peer_mss_bytes: int
    snd_wscale: int
    rcv_wscale: int
    sack_ok: bool
    ts_ok: bool
    retransmitted_segments: int
    fast_retransmits: int
    timeouts: int
    bytes_delivered: int
    history: tuple[State, ...]


class Connection:
    def __init__(self, peer: Peer, tcb: Tcb) -> None:
        self.peer = peer
        self.tcb = tcb

    # ---------------------------------------------------------- identity
    @property
    def local(self) -> tuple[str, int]:
        from bench.model.peer import ip_str
        return ip_str(self.tcb.local[0]), self.tcb.local[1]

    @property
    def remote(self) -> tuple[str, int]:
        from bench.model.peer import ip_str
        return ip_str(self.tcb.remote[0]), self.tcb.remote[1]

    @property
    def state(self) -> State:
        with self.peer.lock:
            return self.tcb.state

    @property
    def iss(self) -> int:
        return wrap(self.tcb.iss)

    @property
    def irs(self) -> int:
        return wrap(self.tcb.irs)

    def __repr__(self) -> str:
        return f"<Connection {self.local} -> {self.remote} {self.tcb.state}>"

    # ------------------------------------------------------------ waiting
    def _wait(self, predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        with self.peer.lock:
            while not predicate():
                self.peer._check_loop()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{what}: not within {timeout_s} s ({self!r})")
                self.peer.cond.wait(min(remaining, 0.5))

    def wait_state(self, state: State | str, timeout_s: float = 5.0) -> None:
        """Return once the connection has reached `state` (now or earlier in its life).

        Raises TcpError when it closed without reaching it."""
        target = State(state)
        tcb = self.tcb

        def reached() -> bool:
            if target in tcb.history:
                return True
            if tcb.state is State.CLOSED:
                raise TcpError(f"connection closed ({tcb.error}) before {target}")
            return False

        self._wait(reached, timeout_s, f"wait for {target}")

    # ------------------------------------------------------------- data
    def send(self, data: bytes) -> None:
        """Queue `data`; it leaves as the windows allow (no blocking on the buffer)."""
        with self.peer.lock:
            self.tcb.user_send(data)

    def wait_acked(self, timeout_s: float = 30.0) -> None:
        """Wait until everything queued (and the FIN, if any) is acknowledged."""
        tcb = self.tcb

        def done() -> bool:
            if tcb.state is State.CLOSED and tcb.error:
                raise TcpError(f"connection {tcb.error}")
            end = tcb.data_end + (1 if tcb.fin_queued else 0)
            return tcb.snd_una >= end

        self._wait(done, timeout_s, "wait for ACK of all data")

    def recv(self, max_bytes: int = 1 << 20, timeout_s: float = 5.0) -> bytes:
        """Up to `max_bytes` of data; b'' at end of stream (the DUT's FIN)."""
        tcb = self.tcb

        def ready() -> bool:
            if tcb.rcvbuf or tcb.eof:
                return True
            if tcb.state is State.CLOSED:
                if tcb.error:
                    raise TcpError(f"connection {tcb.error}")
                return True
            return False

        self._wait(ready, timeout_s, "recv")
        with self.peer.lock:
            return self.tcb.user_recv(max_bytes)

    def recv_exactly(self, n_bytes: int, timeout_s: float = 30.0) -> bytes:
        out = bytearray()
        deadline = time.monotonic() + timeout_s
        while len(out) < n_bytes:
            chunk = self.recv(n_bytes - len(out), max(deadline - time.monotonic(), 0.001))
            if not chunk:
                raise TcpError(f"end of stream after {len(out)} of {n_bytes} bytes")
            out += chunk
        return bytes(out)

    # ------------------------------------------------------------ closing
    def shutdown(self) -> None:
        """CLOSE in RFC terms: send FIN after queued data; receiving continues."""
        with self.peer.lock:
            self.tcb.user_close()

    def close(self) -> None:
        """Same as shutdown(): the model keeps reading until the DUT's FIN."""
        self.shutdown()

    def abort(self) -> None:
        """Send RST and drop the connection."""
        with self.peer.lock:
            self.tcb.user_abort()

    # ----------------------------------------------------------- controls
    def set_window(self, window_bytes: int | None) -> None:
        """Advertise exactly `window_bytes` (0: zero window); None: back to normal."""
        with self.peer.lock:
            self.tcb.set_window(window_bytes)

    def hold_acks(self, hold: bool = True) -> None:
        """Withhold pure ACKs (data segments still carry the ACK field)."""
        with self.peer.lock:
            self.tcb.withhold_acks = hold
            if not hold:
                self.tcb._ack_now = True
                self.tcb.flush()

    def info(self) -> ConnInfo:
        with self.peer.lock:
            t = self.tcb
            return ConnInfo(
                t.state, t.error, t.snd_una - t.iss, t.snd_nxt - t.iss, t.snd_max - t.iss,
                t.snd_wnd, t.rcv_nxt - t.irs, t._rcv_wnd(), t.cc.cwnd, t.cc.ssthresh,
                t.rto.rto_s, t.rto.srtt_s, t.smss, t.peer_mss, t.snd_wscale, t.rcv_wscale,
                t.sack_ok, t.ts_ok, t.retransmitted_segments, t.cc.fast_retransmits,
                t.cc.timeouts, t.bytes_delivered, tuple(t.history),
            )

    # ----------------------------------------------------- segment level
    def inject(
        self,
        flags: str | int = "A",
        seq: int | None = None,
        ack: int | None = None,
        relative: bool = True,
        payload: bytes = b"",
        window: int | None = None,
        options_raw: bytes | None = None,
        src: str | None = None,
        bad_checksum: bool = False,
        data_offset_words: int | None = None,
    ) -> Segment:
        """Send one hand-made segment on this connection's 4-tuple; the TCB is untouched.

        seq/ack default to SND.NXT / RCV.NXT; with `relative` they count from this
        side's ISN and the DUT's ISN (1 = first data byte). Options default to a
        current timestamp option when timestamps were negotiated."""
        with self.peer.lock:
            t = self.tcb
            if seq is None:
                seq_abs = t.snd_nxt
            else:
                seq_abs = t.iss + seq if relative else seq
            if ack is None:
                ack_abs = t.rcv_nxt
            else:
                ack_abs = t.irs + ack if relative else ack
            if options_raw is None:
                options_raw = (opt.timestamp_bytes(t._tsval(), t.ts_recent) if t.ts_ok
                               else b"")
            if window is None:
                window = min(t._rcv_wnd() >> t.rcv_wscale, 0xFFFF)
            bits = flags_from(flags) if isinstance(flags, str) else flags
            seg = Segment(t.local[0] if src is None else _ip(src), t.remote[0], t.local[1],
                          t.remote[1], wrap(seq_abs), wrap(ack_abs), bits, window,
                          options_raw, payload)
            return self.peer._send_segment(seg, bad_checksum, data_offset_words)

    def expect(
        self,
        pattern: SegmentPattern,
        timeout_s: float = 5.0,
        at_s: float | None = None,
        after_ns: int | None = None,
        tolerance: Tolerance | None = None,
        relative: bool = True,
    ) -> Match:
        """peer.expect() restricted to this connection; seq/ack relative to the ISNs
        (seq counts from the DUT's ISN, ack from this side's) unless `relative` is off."""
        t = self.tcb
        lip, lport, rip, rport = t.local[0], t.local[1], t.remote[0], t.remote[1]

        def flow(seg: Segment) -> bool:
            if seg.direction == "in":
                return seg.sport == rport and seg.dport == lport and seg.src_ip == rip \
                    and seg.dst_ip == lip
            return seg.sport == lport and seg.dport == rport and seg.dst_ip == rip

        if relative:
            if pattern.direction == "out":
                bases = (wrap(t.iss), wrap(t.irs))
            else:
                bases = (wrap(t.irs), wrap(t.iss))
        else:
            bases = (0, 0)
        return self.peer.expect(pattern, timeout_s, at_s, after_ns, tolerance,
                                seq_base=bases[0], ack_base=bases[1], flow=flow)


def _ip(addr: str) -> bytes:
    import ipaddress
    return ipaddress.IPv4Address(addr).packed
