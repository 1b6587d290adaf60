"""Sequence-number arithmetic modulo 2**32 (RFC 9293 section 3.4).

Inside the model every sequence number is an unwrapped Python int (it keeps growing past
2**32), so comparisons are plain `<`; wrapping happens only at the wire, through
`wrap` and `unwrap`. The modular comparisons are here for code that only has wire
values (the oracle, patterns).
"""

from __future__ import annotations

MOD = 1 << 32
MASK = MOD - 1
HALF = 1 << 31


def wrap(n: int) -> int:
    """The 32-bit wire value of an unwrapped sequence number."""
    return n & MASK


def unwrap(value: int, ref: int) -> int:
    """The unwrapped number closest to `ref` whose wire value is `value`."""
    delta = (value - ref) & MASK
    if delta >= HALF:
        delta -= MOD
    return ref + delta


def diff(a: int, b: int) -> int:
    """a - b as a signed distance on the 32-bit circle, in [-2**31, 2**31)."""
    d = (a - b) & MASK
    return d - MOD if d >= HALF else d


def lt(a: int, b: int) -> bool:
    return diff(a, b) < 0


def leq(a: int, b: int) -> bool:
    return diff(a, b) <= 0


def gt(a: int, b: int) -> bool:
    return diff(a, b) > 0


def geq(a: int, b: int) -> bool:
    return diff(a, b) >= 0


def in_window(seq: int, left: int, size: int) -> bool:
    """left <= seq < left + size, modulo 2**32 (size < 2**31)."""
    return 0 <= ((seq - left) & MASK) < size
