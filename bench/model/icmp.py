"""ICMP on the reference peer's wire link: send the error a router would (fragmentation
needed, quoting a DUT segment) and record the ICMP messages the DUT sends to the peer
(port unreachable, ...), with kernel timestamps and pcap frame numbers.

Packets are built with scapy; the peer's link sends them (Peer.send_ip)."""

from __future__ import annotations

import ipaddress
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.model.peer import Peer
from bench.model.segment import Segment
from bench.wire import RxFrame

IP_PROTO_ICMP = 1
DEST_UNREACH = 3
PORT_UNREACH = 3
FRAG_NEEDED = 4


@dataclass(frozen=True)
class IcmpMessage:
    """One ICMP message on the wire; `quoted_*` describe the packet it quotes."""

    src: str
    dst: str
    type: int
    code: int
    next_hop_mtu: int
    quoted_proto: int | None
    quoted_src: str | None
    quoted_dst: str | None
    quoted_sport: int | None
    quoted_dport: int | None
    ts_ns: int
    frame_no: int


def frag_needed(segment: Segment, next_hop_mtu: int, router: str) -> bytes:
    """ICMP type 3 code 4 from `router` to the sender of `segment`, quoting its IP
    header as sent (id, TTL, DF, length) and its whole TCP header (RFC 792, RFC 1191)."""
    from scapy.layers.inet import ICMP, IP

    sender, receiver = _ip(segment.src_ip), _ip(segment.dst_ip)
    doff = segment.data_offset or 20 + len(segment.options_raw)
    tcp = struct.pack("!HHII", segment.sport, segment.dport, segment.seq, segment.ack)
    tcp += struct.pack("!HHHH", ((doff // 4) << 12) | segment.flags, segment.window, 0, 0)
    tcp += segment.options_raw[:doff - 20]
    quoted = IP(src=sender, dst=receiver, id=segment.ip_id, ttl=segment.ttl, proto=6,
                flags="DF" if segment.df else 0,
                len=20 + doff + len(segment.payload))
    icmp = ICMP(type=DEST_UNREACH, code=FRAG_NEEDED, nexthopmtu=next_hop_mtu)
    return bytes(IP(src=router, dst=sender) / icmp / (bytes(quoted)[:20] + tcp))


def parse_icmp(frame: bytes, ts_ns: int = 0, frame_no: int = 0) -> IcmpMessage | None:
    """The ICMP message in an Ethernet/IPv4 frame, or None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != IP_PROTO_ICMP:
        return None
    icmp = 14 + (frame[14] & 0x0F) * 4
    kind, code = frame[icmp], frame[icmp + 1]
    mtu = struct.unpack_from("!H", frame, icmp + 6)[0] if kind == DEST_UNREACH else 0
    quote = icmp + 8
    proto = q_src = q_dst = sport = dport = None
    if kind in (3, 4, 5, 11, 12) and len(frame) >= quote + 20:
        qhl = (frame[quote] & 0x0F) * 4
        proto = frame[quote + 9]
        q_src, q_dst = _ip(frame[quote + 12:quote + 16]), _ip(frame[quote + 16:quote + 20])
        if len(frame) >= quote + qhl + 4:
            sport, dport = struct.unpack_from("!HH", frame, quote + qhl)
    return IcmpMessage(_ip(frame[26:30]), _ip(frame[30:34]), kind, code, mtu, proto,
                       q_src, q_dst, sport, dport, ts_ns, frame_no)


def _ip(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


class IcmpListener:
    """`with IcmpListener(peer) as icmp:` records every ICMP message to the peer."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.log: list[IcmpMessage] = []
        self._changed = threading.Condition()
        peer.frame_taps.append(self._tap)

    def close(self) -> None:
        if self._tap in self.peer.frame_taps:
            self.peer.frame_taps.remove(self._tap)

    def __enter__(self) -> IcmpListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tap(self, frame: RxFrame) -> None:
        msg = parse_icmp(frame.data, frame.ts_ns, frame.frame_no)
        if msg is not None and msg.dst == self.peer.ip:
            with self._changed:
                self.log.append(msg)
                self._changed.notify_all()

    def wait_for(self, match: Callable[[IcmpMessage], bool],
                 timeout_s: float) -> IcmpMessage | None:
        """The first recorded message `match` accepts, waiting up to `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = next((m for m in self.log if match(m)), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._changed.wait(remaining)
