"""ARP for the peer's addresses: answer who-has for them, learn the DUT's MAC.

The bench kernel must never answer for the peer (its interface has no IP), so this is
the only thing on the wire that says where the peer's addresses live."""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable

from bench.wire.sockopt import ETH_P_ARP, ETH_P_IP

_ARP = struct.Struct("!HHBBH6s4s6s4s")
BROADCAST = b"\xff" * 6


def _ip_in(networks: list[ipaddress.IPv4Network], ip: bytes) -> bool:
    addr = ipaddress.IPv4Address(ip)
    return any(addr in net for net in networks)


class ArpResponder:
    """Answers ARP for owned networks with `mac`; keeps an IP -> MAC table."""

    def __init__(self, mac: bytes, owned: Iterable[str], send: Callable[[bytes], object]) -> None:
        self.mac = mac
        self.owned = [ipaddress.IPv4Network(n, strict=False) for n in owned]
        self._send = send
        self.table: dict[bytes, bytes] = {}

    def handle(self, frame: bytes) -> bool:
        """Process `frame` if it is ARP; True when it was (and is consumed)."""
        if len(frame) < 42 or frame[12:14] != b"\x08\x06":
            return False
        _htype, ptype, _hlen, _plen, op, sha, spa, _tha, tpa = _ARP.unpack_from(frame, 14)
        if ptype != ETH_P_IP:
            return True
        if spa != b"\0\0\0\0":
            self.table[spa] = sha
        if op == 1 and _ip_in(self.owned, tpa):
            reply = (
                sha + self.mac + struct.pack("!H", ETH_P_ARP)
                + _ARP.pack(1, ETH_P_IP, 6, 4, 2, self.mac, tpa, sha, spa)
            )
            self._send(reply)
        return True

    def learn(self, ip: bytes, mac: bytes) -> None:
        self.table[ip] = mac

    def lookup(self, ip: bytes) -> bytes | None:
        return self.table.get(ip)

    def request(self, target_ip: str, sender_ip: str) -> None:
        """Broadcast who-has `target_ip` from `sender_ip` (one of the owned addresses)."""
        frame = (
            BROADCAST + self.mac + struct.pack("!H", ETH_P_ARP)
            + _ARP.pack(1, ETH_P_IP, 6, 4, 1, self.mac, socket.inet_aton(sender_ip),
                        b"\0" * 6, socket.inet_aton(target_ip))
        )
        self._send(frame)
