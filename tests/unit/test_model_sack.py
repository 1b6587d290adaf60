"""SACK in the model: the sender's scoreboard resends only the holes (RFC 6675,
simplified), and the receiver lists its blocks most recent first (RFC 2018)."""

from __future__ import annotations

from bench.model import options as opt
from bench.model.config import ConnOptions
from bench.model.sack import Scoreboard
from bench.model.seq import wrap

from .test_model_tcb import R, established, seg

SACK_OPTS = ConnOptions(timestamps=False, iss=1000, wscale=None)
REMOTE_SACK = opt.build(mss=1000, sack_permitted=True)


def test_scoreboard_merges_ignores_out_of_range_and_finds_holes() -> None:
    board = Scoreboard()
    assert board.update([(200, 300), (500, 600)], snd_una=100, snd_max=1000)
    assert board.update([(300, 400), (50, 90), (900, 1100)], snd_una=100, snd_max=1000)
    assert board.blocks == [(200, 400), (500, 600)]  # merged; below SND.UNA / past SND.MAX
    assert not board.update([(200, 250)], snd_una=100, snd_max=1000)  # nothing new
    assert board.high == 600
    assert board.next_hole(100) == (100, 200)
    assert board.next_hole(250) == (400, 500)
    assert board.next_hole(500) is None
    assert board.unsacked_bytes(100, 600) == 200
    board.advance(450)
    assert board.blocks == [(500, 600)] and board.is_sacked(550)


def _sack(*blocks: tuple[int, int]) -> bytes:
    """A SACK option for local sequence offsets (the TCB's ISS is 1000)."""
    return opt.build(sack_blocks=[(wrap(1001 + s), wrap(1001 + e)) for s, e in blocks])


def test_sender_resends_only_the_holes_the_receiver_reports() -> None:
    env, tcb = established(SACK_OPTS, remote_options=REMOTE_SACK)
    assert tcb.sack_ok and tcb.smss == 1000
    tcb.cc.cwnd = 10 * 1000
    tcb.user_send(bytes(range(256)) * 24)  # 6144 bytes: segments 0..5 and a tail
    assert [s.seq - 1001 for s in env.sent] == [0, 1000, 2000, 3000, 4000, 5000, 6000]
    env.sent.clear()
    # segments 0 and 2 are lost; 1, 3, 4, 5 arrive and are SACKed
    tcb.input(seg("A", R + 1, 1001, options_raw=_sack((1000, 2000))))
    tcb.input(seg("A", R + 1, 1001, options_raw=_sack((3000, 4000), (1000, 2000))))
    assert env.sent == []
    tcb.input(seg("A", R + 1, 1001, options_raw=_sack((3000, 6000), (1000, 2000))))
    assert tcb.cc.in_recovery and tcb.cc.cwnd == tcb.cc.ssthresh
    resent = [(s.seq - 1001, len(s.payload)) for s in env.sent]
    assert resent == [(0, 1000), (2000, 1000)]
    assert env.sent[0].payload == (bytes(range(256)) * 24)[:1000]
    env.sent.clear()
    # a partial ACK up to the second hole: that hole was already resent, nothing again
    tcb.input(seg("A", R + 1, 1001 + 2000, options_raw=_sack((3000, 6000))))
    assert [s.seq - 1001 for s in env.sent if s.payload and s.seq - 1001 < 6000] == []
    tcb.input(seg("A", R + 1, 1001 + 6144))
    assert not tcb.cc.in_recovery and tcb.scoreboard.blocks == []
    assert tcb.retransmitted_segments == 2


def test_without_sack_blocks_recovery_stays_newreno() -> None:
    env, tcb = established(SACK_OPTS, remote_options=REMOTE_SACK)
    tcb.cc.cwnd = 10 * 1000
    tcb.user_send(b"d" * 5000)
    env.sent.clear()
    for _ in range(3):
        tcb.input(seg("A", R + 1, 1001))
    assert [s.seq - 1001 for s in env.sent] == [0]
    assert tcb.cc.cwnd == tcb.cc.ssthresh + 3 * 1000  # RFC 5681 inflation


def test_rto_clears_the_scoreboard() -> None:
    env, tcb = established(SACK_OPTS, remote_options=REMOTE_SACK)
    tcb.cc.cwnd = 10 * 1000
    tcb.user_send(b"d" * 3000)
    tcb.input(seg("A", R + 1, 1001, options_raw=_sack((1000, 2000))))
    assert tcb.scoreboard
    env.fire("_on_rto")
    assert not tcb.scoreboard and env.last().seq == 1001


def test_receiver_lists_blocks_most_recent_first() -> None:
    env, tcb = established(SACK_OPTS, remote_options=REMOTE_SACK)

    def blocks() -> list[tuple[int, int]]:
        return [((left - R - 1) & 0xFFFFFFFF, (right - R - 1) & 0xFFFFFFFF)
                for left, right in env.last().options.sack_blocks]

    tcb.input(seg("A", R + 1 + 100, 1001, b"a" * 50))
    assert blocks() == [(100, 150)]
    tcb.input(seg("A", R + 1 + 300, 1001, b"c" * 50))
    assert blocks() == [(300, 350), (100, 150)]
    tcb.input(seg("A", R + 1 + 500, 1001, b"e" * 50))
    assert blocks() == [(500, 550), (300, 350), (100, 150)]
    tcb.input(seg("A", R + 1 + 150, 1001, b"b" * 50))  # extends the oldest block
    assert blocks() == [(100, 200), (500, 550), (300, 350)]
    tcb.input(seg("A", R + 1 + 700, 1001, b"g" * 50))
    tcb.input(seg("A", R + 1 + 900, 1001, b"i" * 50))
    # four blocks fit without timestamps; the least recently changed one is left out
    assert blocks() == [(900, 950), (700, 750), (100, 200), (500, 550)]
    tcb.input(seg("A", R + 1, 1001, b"x" * 100))
    assert blocks() == [(900, 950), (700, 750), (500, 550), (300, 350)]
    assert env.last().ack == (R + 1 + 200) & 0xFFFFFFFF
