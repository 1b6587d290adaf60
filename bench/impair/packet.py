"""Header fields of an Ethernet frame, read with struct (the hot path never uses scapy).

Only what matching and the evidence log need: IPv4 addresses and id, protocol, ports,
TCP sequence number and flags, L4 header and payload offsets. Anything that is not
IPv4 (ARP, IPv6) comes back with proto 0, which only `proto: any` matches.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

ETH_P_IP = 0x0800
ETH_P_8021Q = 0x8100
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = 1, 6, 17

_ETHERTYPE = struct.Struct("!H")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_PORTS = struct.Struct("!HH")
_TCP = struct.Struct("!HHIIBB")


class Headers(NamedTuple):
    """Parsed fields; offsets are from the start of the frame."""

    proto: int  # IP protocol number, 0 when not IPv4
    src_ip: int
    dst_ip: int
    ip_id: int
    src_port: int
    dst_port: int
    seq: int
    tcp_flags: int
    l4_offset: int  # start of the TCP/UDP/ICMP header
    payload_offset: int  # start of the L4 payload
    payload_bytes: int


NOT_IP = Headers(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def parse(frame: bytes) -> Headers:
    """Headers of one frame; truncated or non-IPv4 frames give NOT_IP (never raise)."""
    try:
        offset = 14
        (ethertype,) = _ETHERTYPE.unpack_from(frame, 12)
        if ethertype == ETH_P_8021Q:
            (ethertype,) = _ETHERTYPE.unpack_from(frame, 16)
            offset = 18
        if ethertype != ETH_P_IP:
            return NOT_IP
        ver_ihl, _tos, total_len, ip_id, _frag, _ttl, proto, _csum, src, dst = (
            _IPV4.unpack_from(frame, offset))
        l4 = offset + (ver_ihl & 0x0F) * 4
        ip_end = min(offset + total_len, len(frame))
        src_ip = int.from_bytes(src, "big")
        dst_ip = int.from_bytes(dst, "big")
        if proto == IPPROTO_TCP:
            sport, dport, seq, _ack, data_off, flags = _TCP.unpack_from(frame, l4)
            payload = l4 + (data_off >> 4) * 4
            return Headers(proto, src_ip, dst_ip, ip_id, sport, dport, seq, flags, l4,
                           payload, max(0, ip_end - payload))
        if proto == IPPROTO_UDP:
            sport, dport = _PORTS.unpack_from(frame, l4)
            return Headers(proto, src_ip, dst_ip, ip_id, sport, dport, 0, 0, l4, l4 + 8,
                           max(0, ip_end - l4 - 8))
        header = 8 if proto == IPPROTO_ICMP else 0
        return Headers(proto, src_ip, dst_ip, ip_id, 0, 0, 0, 0, l4, l4 + header,
                       max(0, ip_end - l4 - header))
    except struct.error:
        return NOT_IP


def flag_letters(flags: int) -> str:
    """TCP flags as tcpdump-like letters, e.g. 'SA', 'PA'."""
    return "".join(letter for letter, bit in zip("FSRPAUEC", (1, 2, 4, 8, 16, 32, 64, 128),
                                                 strict=True) if flags & bit)
