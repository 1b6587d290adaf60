"""The peer's UDP and ICMP helpers (bench.model.udp, bench.model.icmp): what they build
parses back, a spoiled checksum is seen as such, and an ICMP error quotes the segment."""

from __future__ import annotations

import ipaddress

from bench.model.icmp import DEST_UNREACH, FRAG_NEEDED, frag_needed, parse_icmp
from bench.model.segment import Segment
from bench.model.udp import build_datagram, parse_datagram

ETH = b"\x02" * 12 + b"\x08\x00"
PEER, DUT = "192.0.2.2", "192.0.2.10"


def _raw(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def test_datagram_round_trip() -> None:
    d = parse_datagram(ETH + build_datagram(PEER, DUT, 40000, 7, b"hello"), 5, 3)
    assert d is not None and d.checksum_ok
    assert (d.src, d.dst, d.sport, d.dport, d.payload) == (PEER, DUT, 40000, 7, b"hello")
    assert (d.ts_ns, d.frame_no) == (5, 3)


def test_spoiled_udp_checksum_is_detected() -> None:
    d = parse_datagram(ETH + build_datagram(PEER, DUT, 1, 2, b"x" * 33, bad_checksum=True))
    assert d is not None and not d.checksum_ok and d.payload == b"x" * 33


def test_non_udp_frames_are_not_datagrams() -> None:
    seg_frame = ETH + bytes(9) + b"\x06" + bytes(40)
    assert parse_datagram(seg_frame) is None


def test_frag_needed_quotes_the_segment() -> None:
    seg = Segment(_raw(DUT), _raw(PEER), 7006, 40000, 123456, 99, 0x18, 500,
                  payload=b"z" * 1460, data_offset=20, ip_id=77, df=True)
    msg = parse_icmp(ETH + frag_needed(seg, 1280, PEER))
    assert msg is not None
    assert (msg.type, msg.code, msg.next_hop_mtu) == (DEST_UNREACH, FRAG_NEEDED, 1280)
    assert (msg.src, msg.dst) == (PEER, DUT)
    assert (msg.quoted_proto, msg.quoted_src, msg.quoted_dst) == (6, DUT, PEER)
    assert (msg.quoted_sport, msg.quoted_dport) == (7006, 40000)
