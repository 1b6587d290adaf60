"""Sequence arithmetic across the 2**32 wrap (RFC 9293 section 3.4), property-based."""

from hypothesis import given
from hypothesis import strategies as st

from bench.model import seq

u32 = st.integers(0, seq.MASK)
near = st.integers(-(seq.HALF - 1), seq.HALF - 1)


@given(ref=st.integers(0, 1 << 40), delta=near)
def test_unwrap_inverts_wrap_within_half_the_space(ref: int, delta: int) -> None:
    n = ref + delta
    assert seq.unwrap(seq.wrap(n), ref) == n


@given(a=u32, delta=st.integers(1, seq.HALF - 1))
def test_order_holds_across_the_wrap(a: int, delta: int) -> None:
    b = (a + delta) & seq.MASK
    assert seq.lt(a, b) and seq.leq(a, b) and seq.gt(b, a) and seq.geq(b, a)
    assert not seq.lt(b, a)
    assert seq.diff(b, a) == delta


@given(left=u32, size=st.integers(1, seq.HALF - 1), off=st.integers(0, seq.HALF - 1))
def test_in_window_matches_offset(left: int, size: int, off: int) -> None:
    assert seq.in_window((left + off) & seq.MASK, left, size) == (off < size)


def test_wrap_example() -> None:
    assert seq.lt(0xFFFFFFF0, 0x10)
    assert seq.unwrap(0x10, 0xFFFFFFF0) == 0x100000010
