"""The Internet checksum (RFC 1071) without a per-byte Python loop.

The one's-complement sum of 16-bit words is congruent to the big-endian integer of the
bytes modulo 65535 (65536 = 1 mod 65535), so int.from_bytes does the summing in C.
"""

from __future__ import annotations


def ones_sum_mod(data: bytes | bytearray | memoryview) -> int:
    """Sum of the 16-bit big-endian words of `data` modulo 65535 (odd length: zero pad)."""
    value = int.from_bytes(data, "big")
    if len(data) & 1:
        value <<= 8
    return value % 0xFFFF


def finish(total_mod: int) -> int:
    """The checksum field for a sum (mod 65535) of the covered words."""
    return (0xFFFF - total_mod % 0xFFFF) % 0xFFFF


def internet_checksum(data: bytes | bytearray | memoryview) -> int:
    return finish(ones_sum_mod(data))


def pseudo_header_sum(src_ip: bytes, dst_ip: bytes, proto: int, length: int) -> int:
    """The IPv4 pseudo-header's words, summed modulo 65535."""
    return (int.from_bytes(src_ip + dst_ip, "big") + proto + length) % 0xFFFF
