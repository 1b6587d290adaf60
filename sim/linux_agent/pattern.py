"""The stream data pattern: byte[k] = k mod 251, k counted from a connection's first byte."""

from __future__ import annotations

PATTERN_PERIOD = 251
CHUNK_BYTES = 65536
_TABLE = bytes(range(PATTERN_PERIOD)) * (CHUNK_BYTES // PATTERN_PERIOD + 2)


def pattern_bytes(offset: int, length: int) -> bytes:
    """The `length` pattern bytes that start at stream offset `offset`."""
    out = bytearray()
    while length > 0:
        start = offset % PATTERN_PERIOD
        n = min(length, CHUNK_BYTES)
        out += _TABLE[start : start + n]
        offset += n
        length -= n
    return bytes(out)


def count_mismatches(offset: int, data: bytes) -> int:
    """How many bytes of `data` (received at stream offset `offset`) break the pattern."""
    expected = pattern_bytes(offset, len(data))
    if expected == data:
        return 0
    return sum(1 for a, b in zip(expected, data, strict=True) if a != b)
