"""RFC 9293 section 3.10 event processing, table-driven: (state, event) -> next state
and the segment sent in reply; plus RFC 5961, 6298, 5681/6582 and the persist timer."""

from __future__ import annotations

from collections.abc import Callable

# ---- a fake environment: records what the TCB sends, fires timers by hand ----
from dataclasses import dataclass

import pytest

from bench.model import options as opt
from bench.model.config import ConnOptions
from bench.model.segment import Segment, flags_from, flags_str
from bench.model.states import State
from bench.model.tcb import Tcb

LOCAL = (bytes([192, 0, 2, 2]), 40000)
REMOTE = (bytes([192, 0, 2, 10]), 80)
REMOTE_ISS = 0xFFFFFF00  # close to the wrap, on purpose


@dataclass
class FakeTimer:
    delay_s: float
    fn: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeEnv:
    def __init__(self) -> None:
        self.sent: list[Segment] = []
        self.timers: list[FakeTimer] = []
        self.now = 1_000_000_000
        self.established: list[Tcb] = []
        self.closed: list[Tcb] = []

    def now_ns(self) -> int:
        return self.now

    def transmit(self, tcb: Tcb, seg: Segment) -> None:
        self.sent.append(seg)

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay_s, fn)
        self.timers.append(timer)
        return timer

    def on_established(self, tcb: Tcb) -> None:
        self.established.append(tcb)

    def on_closed(self, tcb: Tcb) -> None:
        self.closed.append(tcb)

    def pending(self) -> list[FakeTimer]:
        return [t for t in self.timers if not t.cancelled]

    def fire(self, fn_name: str) -> FakeTimer:
        """Fire the live timer whose callback is `fn_name` (e.g. '_on_rto')."""
        for timer in self.pending():
            if timer.fn.__name__ == fn_name:
                timer.cancelled = True
                self.now += int(timer.delay_s * 1e9)
                timer.fn()
                return timer
        raise AssertionError(f"no live timer {fn_name}: {[t.fn.__name__ for t in self.pending()]}")

    def last(self) -> Segment:
        return self.sent[-1]


def seg(flags: str, seq: int, ack: int = 0, payload: bytes = b"", window: int = 65535,
        options_raw: bytes = b"") -> Segment:
    """A segment from the remote side (absolute 32-bit numbers)."""
    return Segment(REMOTE[0], LOCAL[0], REMOTE[1], LOCAL[1], seq & 0xFFFFFFFF,
                   ack & 0xFFFFFFFF, flags_from(flags), window, options_raw, payload)


PLAIN = ConnOptions(timestamps=False, sack_permitted=False, wscale=None, iss=1000,
                    delayed_ack_s=0.2, time_wait_s=60.0)


def established(options: ConnOptions = PLAIN, passive: bool = False,
                remote_options: bytes | None = None) -> tuple[FakeEnv, Tcb]:
    """A TCB in ESTABLISHED (remote offers only MSS unless told); remote ISS = REMOTE_ISS,
    local ISS 1000."""
    remote = remote_options if remote_options is not None else opt.build(mss=1460)
    env = FakeEnv()
    tcb = Tcb(env, LOCAL, REMOTE, options)
    if passive:
        tcb.open_passive()
        tcb.input(seg("S", REMOTE_ISS, options_raw=remote))
        tcb.input(seg("A", REMOTE_ISS + 1, 1001))
    else:
        tcb.open_active()
        tcb.input(seg("SA", REMOTE_ISS, 1001, options_raw=remote))
    env.sent.clear()
    return env, tcb


R = REMOTE_ISS


def in_state(state: State) -> tuple[FakeEnv, Tcb]:
    """Drive a fresh TCB into `state` through real events."""
    if state is State.CLOSED:
        env = FakeEnv()
        return env, Tcb(env, *_ends(), PLAIN)
    if state is State.LISTEN:
        env = FakeEnv()
        tcb = Tcb(env, *_ends(), PLAIN)
        tcb.open_passive()
        return env, tcb
    if state is State.SYN_SENT:
        env = FakeEnv()
        tcb = Tcb(env, *_ends(), PLAIN)
        tcb.open_active()
        env.sent.clear()
        return env, tcb
    if state is State.SYN_RECEIVED:
        env, tcb = in_state(State.LISTEN)
        tcb.input(seg("S", R))
        env.sent.clear()
        return env, tcb
    env, tcb = established()
    if state is State.ESTABLISHED:
        return env, tcb
    if state is State.CLOSE_WAIT:
        tcb.input(seg("FA", R + 1, 1001))
    elif state is State.LAST_ACK:
        tcb.input(seg("FA", R + 1, 1001))
        tcb.user_close()
    elif state is State.FIN_WAIT_1:
        tcb.user_close()
    elif state is State.FIN_WAIT_2:
        tcb.user_close()
        tcb.input(seg("A", R + 1, 1002))
    elif state is State.CLOSING:
        tcb.user_close()
        tcb.input(seg("FA", R + 1, 1001))
    elif state is State.TIME_WAIT:
        tcb.user_close()
        tcb.input(seg("FA", R + 1, 1002))
    assert tcb.state is state
    env.sent.clear()
    return env, tcb


def _ends() -> tuple:  # type: ignore[type-arg]
    return LOCAL, REMOTE


Event = Callable[[Tcb], None]

# (state, event name, event, next state, flags of the reply or None for no reply)
TABLE: list[tuple[State, str, Event, State, str | None]] = [
    (State.CLOSED, "OPEN active", lambda t: t.open_active(), State.SYN_SENT, "S"),
    (State.LISTEN, "SYN", lambda t: t.input(seg("S", R)), State.SYN_RECEIVED, "SA"),
    (State.LISTEN, "ACK", lambda t: t.input(seg("A", R, 5)), State.LISTEN, "R"),
    (State.LISTEN, "RST", lambda t: t.input(seg("R", R)), State.LISTEN, None),
    (State.LISTEN, "CLOSE", lambda t: t.user_close(), State.CLOSED, None),
    (State.SYN_SENT, "SYN-ACK", lambda t: t.input(seg("SA", R, 1001)), State.ESTABLISHED, "A"),
    (State.SYN_SENT, "SYN-ACK bad ack", lambda t: t.input(seg("SA", R, 5000)),
     State.SYN_SENT, "R"),
    (State.SYN_SENT, "RST-ACK", lambda t: t.input(seg("RA", 0, 1001)), State.CLOSED, None),
    (State.SYN_SENT, "RST without ACK", lambda t: t.input(seg("R", 0)), State.SYN_SENT, None),
    (State.SYN_SENT, "SYN (simultaneous open)", lambda t: t.input(seg("S", R)),
     State.SYN_RECEIVED, "SA"),
    (State.SYN_SENT, "CLOSE", lambda t: t.user_close(), State.CLOSED, None),
    (State.SYN_RECEIVED, "ACK", lambda t: t.input(seg("A", R + 1, 1001)),
     State.ESTABLISHED, None),
    (State.SYN_RECEIVED, "ACK bad", lambda t: t.input(seg("A", R + 1, 7)),
     State.SYN_RECEIVED, "R"),
    (State.SYN_RECEIVED, "RST exact (passive)", lambda t: t.input(seg("R", R + 1)),
     State.LISTEN, None),
    (State.ESTABLISHED, "FIN", lambda t: t.input(seg("FA", R + 1, 1001)),
     State.CLOSE_WAIT, "A"),
    (State.ESTABLISHED, "RST exact", lambda t: t.input(seg("R", R + 1)), State.CLOSED, None),
    (State.ESTABLISHED, "RST in window, inexact", lambda t: t.input(seg("R", R + 100)),
     State.ESTABLISHED, "A"),
    (State.ESTABLISHED, "RST out of window", lambda t: t.input(seg("R", R + 10_000_000)),
     State.ESTABLISHED, None),
    (State.ESTABLISHED, "SYN", lambda t: t.input(seg("S", R + 50)), State.ESTABLISHED, "A"),
    (State.ESTABLISHED, "data beyond window", lambda t: t.input(
        seg("A", R + 1 + 10_000_000, 1001, b"x")), State.ESTABLISHED, "A"),
    (State.ESTABLISHED, "ACK of unsent data", lambda t: t.input(seg("A", R + 1, 9999)),
     State.ESTABLISHED, "A"),
    (State.ESTABLISHED, "CLOSE", lambda t: t.user_close(), State.FIN_WAIT_1, "FA"),
    (State.ESTABLISHED, "ABORT", lambda t: t.user_abort(), State.CLOSED, "RA"),
    (State.FIN_WAIT_1, "ACK of FIN", lambda t: t.input(seg("A", R + 1, 1002)),
     State.FIN_WAIT_2, None),
    (State.FIN_WAIT_1, "FIN (crossing)", lambda t: t.input(seg("FA", R + 1, 1001)),
     State.CLOSING, "A"),
    (State.FIN_WAIT_1, "FIN+ACK of FIN", lambda t: t.input(seg("FA", R + 1, 1002)),
     State.TIME_WAIT, "A"),
    (State.FIN_WAIT_2, "FIN", lambda t: t.input(seg("FA", R + 1, 1002)), State.TIME_WAIT, "A"),
    (State.CLOSING, "ACK of FIN", lambda t: t.input(seg("A", R + 2, 1002)),
     State.TIME_WAIT, None),
    (State.CLOSE_WAIT, "CLOSE", lambda t: t.user_close(), State.LAST_ACK, "FA"),
    (State.LAST_ACK, "ACK of FIN", lambda t: t.input(seg("A", R + 2, 1002)), State.CLOSED, None),
    (State.TIME_WAIT, "FIN again", lambda t: t.input(seg("FA", R + 1, 1002)),
     State.TIME_WAIT, "A"),
    (State.TIME_WAIT, "2MSL timeout", lambda t: t.env.fire("_on_time_wait"),  # type: ignore[attr-defined]
     State.CLOSED, None),
]


@pytest.mark.parametrize(("state", "name", "event", "after", "reply"), TABLE,
                         ids=[f"{s.value}-{n}" for s, n, *_ in TABLE])
def test_transition(state: State, name: str, event: Event, after: State,
                    reply: str | None) -> None:
    env, tcb = in_state(state)
    event(tcb)
    assert tcb.state is after
    if reply is None:
        assert env.sent == []
    else:
        assert env.sent, f"{name}: nothing sent"
        assert flags_str(env.sent[0].flags) == reply


def test_table_covers_all_eleven_states() -> None:
    assert {row[0] for row in TABLE} | {row[3] for row in TABLE} == set(State)


def test_rst_reply_to_bad_ack_in_listen_uses_its_ack_as_seq() -> None:
    env, tcb = in_state(State.LISTEN)
    tcb.input(seg("A", R, 123456))
    assert env.last().seq == 123456


def test_rto_backs_off_and_karn_skips_retransmitted_samples() -> None:
    env, tcb = established(ConnOptions(**{**PLAIN.__dict__, "rto_min_s": 0.2}))
    srtt_before = tcb.rto.srtt_s
    tcb.user_send(b"a" * 100)
    first = env.pending()[-1].delay_s
    env.fire("_on_rto")
    assert tcb.retransmitted_segments == 1 and env.last().payload == b"a" * 100
    assert env.pending()[-1].delay_s == pytest.approx(2 * first)
    env.now += 5_000_000_000
    tcb.input(seg("A", R + 1, 1101))
    assert tcb.rto.srtt_s == srtt_before  # Karn: no sample from a retransmitted segment
    assert tcb.flight_bytes == 0


def test_three_dupacks_fast_retransmit_and_newreno_partial_ack() -> None:
    env, tcb = established()
    tcb.cc.cwnd = 10 * tcb.smss
    tcb.user_send(b"d" * (5 * tcb.smss))
    assert len(env.sent) == 5
    env.sent.clear()
    for _ in range(3):
        tcb.input(seg("A", R + 1, 1001))
    assert tcb.cc.in_recovery and env.sent[0].seq == 1001
    tcb.input(seg("A", R + 1, 1001 + tcb.smss))  # partial ACK: resend the next hole
    assert env.last().seq == 1001 + tcb.smss and tcb.cc.in_recovery
    tcb.input(seg("A", R + 1, 1001 + 5 * tcb.smss))
    assert not tcb.cc.in_recovery and tcb.cc.cwnd <= tcb.cc.ssthresh


def test_zero_window_starts_persist_probes() -> None:
    env, tcb = established()
    tcb.input(seg("A", R + 1, 1001, window=0))
    tcb.user_send(b"p" * 10)
    assert env.sent == []
    env.fire("_on_persist")
    assert len(env.last().payload) == 1
    tcb.input(seg("A", R + 1, 1002, window=1000))
    assert env.last().payload == b"p" * 9


def test_out_of_order_data_gets_immediate_dupack_with_sack() -> None:
    env, tcb = established(ConnOptions(timestamps=False, iss=1000, wscale=None),
                           remote_options=opt.build(mss=1460, sack_permitted=True))
    tcb.input(seg("A", R + 1 + 100, 1001, b"y" * 50))
    ack = env.last()
    assert ack.ack == (R + 1) & 0xFFFFFFFF
    assert ack.options.sack_blocks == (((R + 101) & 0xFFFFFFFF, (R + 151) & 0xFFFFFFFF),)
    tcb.input(seg("A", R + 1, 1001, b"x" * 100))
    assert tcb.user_recv(1000) == b"x" * 100 + b"y" * 50


def test_delayed_ack_every_second_segment_or_timer() -> None:
    env, tcb = established()
    tcb.input(seg("A", R + 1, 1001, b"1"))
    assert env.sent == []
    env.fire("_on_delack")
    assert env.last().ack == (R + 2) & 0xFFFFFFFF
    tcb.input(seg("A", R + 2, 1001, b"2"))
    tcb.input(seg("A", R + 3, 1001, b"3"))
    assert env.last().ack == (R + 4) & 0xFFFFFFFF


def test_forced_zero_window_refuses_data_but_keeps_acks() -> None:
    env, tcb = established()
    tcb.set_window(0)
    assert env.last().window == 0
    tcb.input(seg("A", R + 1, 1001, b"z"))
    assert env.last().ack == (R + 1) & 0xFFFFFFFF and tcb.user_recv(10) == b""


def test_options_negotiated_and_timestamps_echoed() -> None:
    env = FakeEnv()
    tcb = Tcb(env, *_ends(), ConnOptions(iss=5))
    tcb.open_active()
    syn = env.last()
    assert syn.options.names() == ("mss", "sack_perm", "ts", "wscale")
    tcb.input(seg("SA", R, 6, options_raw=opt.build(mss=1000, sack_permitted=True,
                                                   timestamp=(777, 0), wscale=2)))
    assert tcb.smss == 1000 - 12 and tcb.snd_wscale == 2 and tcb.sack_ok
    assert env.last().options.timestamp[1] == 777
