"""Compare a measured value with an expected one: numbers within a tolerance, lists
element by element, yes/no and names exactly.

The tolerance applied to each number is the larger of the profile's (how exactly the
stack can hit its own figure: lwIP's 500 ms tick, packetdrill's 12.5 % for Linux) and
the measurement's own uncertainty (how exactly the bench saw it): a figure is only
wrong if it is off by more than both could explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.measure.result import Tolerance
from bench.profiles.models import Compare, Length

_EPSILON = 1e-9  # float noise: a value exactly on the boundary passes


@dataclass
class Comparison:
    ok: bool
    allowed: float | list[float] | None = None  # the tolerance applied, in the unit
    problems: list[str] = field(default_factory=list)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def allowed(expected: float, measured: float, profile: Tolerance, own: Tolerance) -> float:
    """max(profile tolerance around the expected value, the measurement's own uncertainty)."""
    return max(profile.allowed(expected), own.allowed(measured))


def _scalar(
    measured: Any, expected: Any, profile: Tolerance, own: Tolerance, how: Compare, unit: str
) -> tuple[bool, float | None, str]:
    """(ok, tolerance applied, what is wrong) for one value."""
    if isinstance(expected, bool) or isinstance(expected, str):
        if type(measured) is not type(expected):
            return False, None, f"measured {measured!r} is not a {type(expected).__name__}"
        return measured == expected, None, "" if measured == expected else "differs"
    if not _number(expected):
        return False, None, f"cannot compare with expected {expected!r}"
    if not _number(measured):
        return False, None, f"measured {measured!r} is not a number"
    tol = allowed(expected, measured, profile, own)
    slack = tol + _EPSILON * max(1.0, abs(expected))
    off = measured - expected
    u = f" {unit}" if unit else ""
    beyond = f", more than +-{show(round(tol, 6))}{u}" if tol else ""
    if how is Compare.AT_MOST:
        ok = off <= slack
        return ok, tol, "" if ok else f"above the limit by {show(off)}{u}{beyond}"
    if how is Compare.AT_LEAST:
        ok = -off <= slack
        return ok, tol, "" if ok else f"below the limit by {show(-off)}{u}{beyond}"
    ok = abs(off) <= slack
    return ok, tol, "" if ok else f"off by {show(off, sign=True)}{u}{beyond}"


def compare(
    measured: Any,
    expected: Any,
    profile: Tolerance,
    own: Tolerance,
    how: Compare = Compare.EQUAL,
    length: Length = Length.EXACT,
    repeat_last: bool = False,
    unit: str = "",
) -> Comparison:
    """Does `measured` meet `expected`? Lists compare element-wise after a length check."""
    if measured is None:
        return Comparison(False, problems=["nothing was measured"])
    if not isinstance(expected, list):
        if isinstance(measured, list):
            return Comparison(False, problems=["measured a list, expected one value"])
        ok, tol, problem = _scalar(measured, expected, profile, own, how, unit)
        return Comparison(ok, tol, [problem] if problem else [])
    if not isinstance(measured, list):
        return Comparison(False, problems=["measured one value, expected a list"])
    want = list(expected)
    if repeat_last and want and len(measured) > len(want):
        want += [want[-1]] * (len(measured) - len(want))
    problems = []
    if length is Length.EXACT and len(measured) != len(want):
        problems.append(f"{len(measured)} elements, expected {len(want)}")
    elif len(measured) > len(want):
        problems.append(f"{len(measured)} elements, expected at most {len(want)}")
    elif not measured:
        problems.append("no elements measured")
    tolerances: list[float] = []
    for i, (m, e) in enumerate(zip(measured, want, strict=False)):
        ok, tol, problem = _scalar(m, e, profile, own, how, unit)
        tolerances.append(tol or 0.0)
        if not ok:
            problems.append(f"element {i + 1}: {show(m)} vs {show(e)}, {problem}")
    return Comparison(not problems, tolerances, problems)


def show(value: Any, sign: bool = False) -> str:
    """Numbers as a reader wants them: 2.0, 2.04, 0.7, 6; others as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.1f}" if value.is_integer() else f"{value:.6g}"
        return f"+{text}" if sign and value > 0 else text
    if isinstance(value, int):
        return f"+{value}" if sign and value > 0 else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)
