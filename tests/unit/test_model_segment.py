"""Frames built and parsed with struct agree with scapy (checksums included); options
survive a round trip and garbage is flagged, not fatal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from bench.model import options as opt
from bench.model.segment import ACK, PSH, SYN, Segment, build_frame, flags_from, parse_frame

A, B = bytes([192, 0, 2, 2]), bytes([192, 0, 2, 10])
MAC1, MAC2 = b"\x02\0\0\0\x01\x02", b"\x02\0\0\0\0\x0a"


@given(payload=st.binary(max_size=1500), seq=st.integers(0, 2**32 - 1),
       ack=st.integers(0, 2**32 - 1), window=st.integers(0, 65535))
def test_checksums_match_scapy(payload: bytes, seq: int, ack: int, window: int) -> None:
    seg = Segment(A, B, 40000, 80, seq, ack, ACK | PSH, window,
                  opt.timestamp_bytes(1, 2), payload)
    frame = build_frame(seg, MAC1, MAC2)
    pkt = Ether(frame)
    ref = Ether(bytes(Ether(src=pkt.src, dst=pkt.dst) / IP(
        src="192.0.2.2", dst="192.0.2.10", id=0, flags="DF") / TCP(
        sport=40000, dport=80, seq=seq, ack=ack, flags="PA", window=window,
        options=[("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]) / payload))
    assert pkt[TCP].chksum == ref[TCP].chksum
    assert pkt[IP].chksum == ref[IP].chksum
    parsed = parse_frame(frame)
    assert parsed is not None and parsed.checksum_ok
    assert (parsed.seq, parsed.ack, parsed.window, parsed.payload) == (seq, ack, window, payload)


def test_bad_checksum_and_bad_offset_are_flagged() -> None:
    seg = Segment(A, B, 1, 2, 3, 4, SYN, 5)
    assert not parse_frame(build_frame(seg, MAC1, MAC2, bad_checksum=True)).checksum_ok
    assert not parse_frame(build_frame(seg, MAC1, MAC2, data_offset_words=4)).checksum_ok
    assert not parse_frame(build_frame(seg, MAC1, MAC2, data_offset_words=15)).checksum_ok


def test_options_round_trip() -> None:
    raw = opt.build(mss=1460, sack_permitted=True, timestamp=(7, 9), wscale=7)
    parsed = opt.parse(raw)
    assert (parsed.mss, parsed.sack_permitted, parsed.timestamp, parsed.wscale) == (
        1460, True, (7, 9), 7)
    assert parsed.names() == ("mss", "sack_perm", "ts", "wscale")
    blocks = opt.parse(opt.build(sack_blocks=[(10, 20), (30, 40)]))
    assert blocks.sack_blocks == ((10, 20), (30, 40))


def test_malformed_options_do_not_raise() -> None:
    assert opt.parse(b"\x02\x09\x05").malformed
    assert opt.parse(b"\x08\x00").malformed
    assert opt.parse(b"\x02\x04\x05").malformed
    assert opt.parse(b"\xfe\x03\x01\x01").others == ((254, b"\x01"),)


def test_flags_letters() -> None:
    assert flags_from("SA") == SYN | ACK == flags_from("as")
