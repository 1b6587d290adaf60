"""TX kernel stamps go to the send the kernel numbered them for (SOF_TIMESTAMPING_OPT_ID),
never to whatever send is next in line."""

from __future__ import annotations

from collections import deque

from bench.wire.link import Link, LinkStats, TxFrame


def link_with_pending(keys: list[int]) -> Link:
    link = object.__new__(Link)  # no socket: only the matching logic is under test
    link.pcap = None
    link.stats = LinkStats()
    link._pending = deque(TxFrame(b"x", key=k) for k in keys)
    return link


def test_a_stamp_finds_its_own_send_and_skipped_ones_are_flagged() -> None:
    link = link_with_pending([7, 8, 9])
    record = link._pending_for(8)
    assert record is not None and record.key == 8
    assert link.stats.tx_missing_ts == 1  # send 7 never got a stamp
    assert [r.key for r in link._pending] == [9]


def test_a_late_or_repeated_stamp_is_dropped_not_shifted_onto_the_next_send() -> None:
    link = link_with_pending([10, 11])
    assert link._pending_for(9) is None
    assert [r.key for r in link._pending] == [10, 11]
    assert link.stats.tx_missing_ts == 0


def test_keys_wrap_around_32_bits() -> None:
    link = link_with_pending([0xFFFFFFFF, 0])
    record = link._pending_for(0)
    assert record is not None and record.key == 0 and link.stats.tx_missing_ts == 1
