"""A small UDP endpoint on the reference peer's wire link: it sends hand-made datagrams
(built with scapy, optionally with a spoiled checksum) and collects the datagrams that
come back, with kernel timestamps and pcap frame numbers, for UDP measurements.

The peer has no UDP stack: nothing here answers anything, it only records."""

from __future__ import annotations

import ipaddress
import struct
import threading
import time
from dataclasses import dataclass

from bench.model.checksum import ones_sum_mod
from bench.model.peer import Peer
from bench.wire import RxFrame

IP_PROTO_UDP = 17


@dataclass(frozen=True)
class Datagram:
    """One UDP datagram on the wire, either way ('in': to the peer)."""

    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes
    ts_ns: int
    frame_no: int
    direction: str
    checksum_ok: bool = True


def build_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes,
                   bad_checksum: bool = False, ip_id: int = 0) -> bytes:
    """An IPv4/UDP packet (no Ethernet header); `bad_checksum` flips one checksum bit."""
    from scapy.layers.inet import IP, UDP

    packet = bytearray(bytes(IP(src=src, dst=dst, id=ip_id, flags="DF")
                             / UDP(sport=sport, dport=dport) / payload))
    if bad_checksum:
        packet[26] ^= 0x01  # UDP checksum at IP header (20) + 6
    return bytes(packet)


def parse_datagram(frame: bytes, ts_ns: int = 0, frame_no: int = 0,
                   direction: str = "in") -> Datagram | None:
    """The UDP datagram in an Ethernet/IPv4 frame (checksum verified), or None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != IP_PROTO_UDP:
        return None
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack_from("!H", frame, 16)[0]
    end = min(14 + total, len(frame))
    udp = 14 + ihl
    if udp + 8 > end:
        return None
    sport, dport, length, csum = struct.unpack_from("!HHHH", frame, udp)
    end = min(end, udp + length)
    ok = True
    if csum:  # 0: the sender computed none (allowed for IPv4)
        total_sum = (int.from_bytes(frame[26:34], "big") + IP_PROTO_UDP + (end - udp)
                     + ones_sum_mod(memoryview(frame)[udp:end]))
        ok = total_sum % 0xFFFF == 0
    return Datagram(_ip(frame[26:30]), _ip(frame[30:34]), sport, dport,
                    bytes(frame[udp + 8:end]), ts_ns, frame_no, direction, ok)


def _ip(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


class UdpEndpoint:
    """`with UdpEndpoint(peer, 40007) as ep:` sends from and records datagrams to
    peer.ip:`port` (every port when `port` is None)."""

    def __init__(self, peer: Peer, port: int | None = None) -> None:
        self.peer = peer
        self.port = port
        self.log: list[Datagram] = []
        self._changed = threading.Condition()
        peer.frame_taps.append(self._tap)

    def close(self) -> None:
        if self._tap in self.peer.frame_taps:
            self.peer.frame_taps.remove(self._tap)

    def __enter__(self) -> UdpEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tap(self, frame: RxFrame) -> None:
        dgram = parse_datagram(frame.data, frame.ts_ns, frame.frame_no)
        if dgram is None or dgram.dst != self.peer.ip:
            return
        if self.port is not None and dgram.dport != self.port:
            return
        with self._changed:
            self.log.append(dgram)
            self._changed.notify_all()

    def sendto(self, payload: bytes, dst: str, dport: int, sport: int | None = None,
               bad_checksum: bool = False) -> Datagram:
        """Send one datagram; returns it with its kernel TX timestamp and frame number."""
        sport = sport if sport is not None else (self.port or 40000)
        packet = build_datagram(self.peer.ip, dst, sport, dport, payload, bad_checksum)
        tx = self.peer.send_ip(packet, "bad UDP checksum" if bad_checksum else None)
        return Datagram(self.peer.ip, dst, sport, dport, payload, tx.ts_ns, tx.frame_no,
                        "out", not bad_checksum)

    def mark(self) -> int:
        with self._changed:
            return len(self.log)

    def received(self, since: int = 0) -> list[Datagram]:
        with self._changed:
            return list(self.log[since:])

    def wait(self, count: int, timeout_s: float, since: int = 0) -> list[Datagram]:
        """The datagrams received from position `since` once there are `count` of them,
        or whatever came within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.log) - since < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return list(self.log[since:])

