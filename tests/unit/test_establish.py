"""Pure helpers of the establishment measurements: how a DUT's reply is named, the
stream pattern, and how SYN-ACKs to a SYN flood tell kept entries from SYN cookies."""

from __future__ import annotations

from bench.measure.establish import pattern, reply_kind
from bench.measure.syn_flood import classify_sources
from bench.model import Segment
from bench.model.segment import ACK, RST, SYN

DUT, SPOOF = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 130])


def seg(flags: int, dport: int = 20000, seq: int = 1000) -> Segment:
    return Segment(DUT, SPOOF, 7020, dport, seq, 1, flags, 65535)


def test_reply_kind() -> None:
    assert reply_kind(None) == "none"
    assert reply_kind(seg(RST | ACK)) == "rst"
    assert reply_kind(seg(SYN | ACK)) == "synack"
    assert reply_kind(seg(ACK)) == "ack"


def test_pattern_wraps_at_251() -> None:
    assert pattern(0, 3) == b"\x00\x01\x02"
    assert pattern(250, 2) == b"\xfa\x00"


def test_classify_sources() -> None:
    synacks = [seg(SYN | ACK, 20000, 5), seg(SYN | ACK, 20001, 9), seg(SYN | ACK, 20000, 5),
               seg(SYN | ACK, 20002, 7), seg(SYN | ACK, 20002, 8)]
    by_source, kept, stateless = classify_sources(synacks)
    assert kept == [20000]  # retransmitted with the same ISN: a kept half-open entry
    assert stateless == [20001]  # answered once: a cookie
    assert sorted(by_source) == [20000, 20001, 20002]  # a new ISN is neither
