"""Judge one measurement against the DUT's profile: pass, fail, deviation or not judged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.measure.result import Evidence, Measurement, Tolerance
from bench.profiles.expr import ExprError
from bench.profiles.models import Compare, Expectation, Profile
from bench.profiles.resolve import Expected, namespace, value_of
from bench.verdict.compare import Comparison, compare, show
from bench.verdict.model import Outcome, Verdict

_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_UNITLESS = {"bool", ""}


def judge(
    measurement: Measurement,
    profile: Profile,
    consts: Mapping[str, str],
    context: Mapping[str, Any],
) -> Verdict:
    """Compare `measurement` with what `profile` expects for this DUT now.

    `consts` is the DUT's `consts` reply (strings, as the console gives them) and
    `context` what the test set up (link_mtu, peer_mss, ...): both feed the profile's
    formulas, so an expectation follows a changed sysctl or a smaller MTU.

    The tolerance applied is the larger of the profile's tolerance (how exactly the
    stack itself can hit the figure) and the measurement's own uncertainty (how exactly
    the bench saw it): a figure is wrong only when neither explains the difference.

    A match is `deviation` instead of `pass` when the expectation carries a `deviation`
    text and the measured value does not also meet the catalogue's `generic` value.
    """
    base = {
        "name": measurement.name,
        "dut": measurement.dut,
        "profile": profile.name,
        "measured": measurement.value,
        "unit": measurement.unit,
        "behaviours": measurement.behaviours,
        "evidence": measurement.evidence,
    }
    expectation = profile.expect.get(measurement.name)
    if expectation is None:
        return _not_judged(base, f"profile {profile.name} has no expectation for it")
    base.update(
        unit=expectation.unit,
        source=expectation.source,
        behaviours=expectation.behaviours or measurement.behaviours,
    )
    names, origin = namespace(profile, consts, context)
    try:
        expected = value_of(expectation, names, origin)
    except ExprError as exc:
        return _not_judged(base, f"cannot work out the expected value: {exc}")
    base.update(expected=expected.value, follows=expected.follows)
    if expected.value is None:
        reason = ": ".join(r for r in (expected.why, expectation.note) if r)
        return _not_judged(base, reason or "no value documented")

    measured, own = _in_unit(measurement, expectation.unit)
    if measured is _MISMATCH:
        return _not_judged(
            base, f"measured in {measurement.unit!r}, the profile expects {expectation.unit!r}"
        )
    base["measured"] = measured
    tolerance = profile.tolerance_for(expectation)
    result = _compare(measured, expected.value, tolerance, own, expectation)
    base.update(tolerance=result.allowed, tolerance_why=_why(tolerance, own))
    if not result.ok:
        return _verdict(
            base,
            Outcome.FAIL,
            expectation,
            result.problems,
            _generic_note(measured, expectation, names, origin, tolerance, own),
        )
    if expectation.deviation and not _meets_generic(
        measured, expectation, names, origin, tolerance, own
    ):
        return _verdict(base, Outcome.DEVIATION, expectation, [], "")
    return _verdict(base, Outcome.PASS, expectation, [], "")


_MISMATCH = object()


def judge_as_measured(
    measurement: Measurement,
    profile: Profile,
    dut_consts: Mapping[str, str],
    context: Mapping[str, Any],
) -> Verdict:
    """Judge a figure as its experiment left things: the DUT's constants overridden by the
    settings the experiment applied (`details["settings"]`, restored since), and `context`
    overridden by what it set up (`details["context"]`: link MTU, peer MSS, backlog ...)."""
    details = measurement.details
    return judge(measurement, profile, {**dut_consts, **details.get("settings", {})},
                 {**context, **details.get("context", {})})


def _in_unit(measurement: Measurement, unit: str) -> tuple[Any, Tolerance]:
    """The measured value and its uncertainty in the profile's unit (s <-> ms <-> us)."""
    value, own, have = measurement.value, measurement.tolerance, measurement.unit
    if have == unit or (have in _UNITLESS and unit in _UNITLESS):
        return value, own
    if have in _TIME_UNITS and unit in _TIME_UNITS:
        factor = _TIME_UNITS[have] / _TIME_UNITS[unit]

        def scale(v: Any) -> Any:
            return v * factor if isinstance(v, int | float) and not isinstance(v, bool) else v

        scaled = [scale(v) for v in value] if isinstance(value, list) else scale(value)
        return scaled, Tolerance(abs=own.abs * factor, pct=own.pct, why=own.why)
    return _MISMATCH, own


def _compare(
    measured: Any, expected: Any, tolerance: Tolerance, own: Tolerance, exp: Expectation
) -> Comparison:
    unit = "" if exp.unit in _UNITLESS else exp.unit
    return compare(
        measured, expected, tolerance, own, exp.compare, exp.length, exp.repeat_last, unit
    )


def _generic(exp: Expectation, names: Mapping[str, Any], origin: Mapping[str, str]) -> Expected:
    if exp.generic is None:
        return Expected(None)
    try:
        return value_of(exp.generic, names, origin)
    except ExprError:
        return Expected(None)


def _meets_generic(
    measured: Any,
    exp: Expectation,
    names: Mapping[str, Any],
    origin: Mapping[str, str],
    tolerance: Tolerance,
    own: Tolerance,
) -> bool:
    """Whether the stack, here and now, also does what the catalogue expects."""
    generic = _generic(exp, names, origin).value
    return generic is not None and _compare(measured, generic, tolerance, own, exp).ok


def _generic_note(
    measured: Any,
    exp: Expectation,
    names: Mapping[str, Any],
    origin: Mapping[str, str],
    tolerance: Tolerance,
    own: Tolerance,
) -> str:
    """On a failure: say so when the DUT does what the catalogue expects after all."""
    if _meets_generic(measured, exp, names, origin, tolerance, own):
        generic = _generic(exp, names, origin).value
        return (
            f"it meets the catalogue's generic {show(generic)}: the documented deviation "
            "does not apply to this build, update the profile"
        )
    return ""


def _why(profile: Tolerance, own: Tolerance) -> str:
    parts = [f"profile: {profile.why}" if profile.why else ""]
    if own.abs or own.pct:
        parts.append(f"measurement: {own.why or 'its own uncertainty'}")
    return "; ".join(p for p in parts if p)


def _not_judged(base: dict[str, Any], reason: str) -> Verdict:
    verdict = Verdict(outcome=Outcome.NOT_JUDGED, **base)
    measured = _with_unit(verdict.measured, verdict.unit)
    message = f"{verdict.name}: not judged ({reason}); measured {measured}"
    return verdict.model_copy(update={"message": f"{message}; {_evidence(verdict.evidence)}"})


def _verdict(
    base: dict[str, Any], outcome: Outcome, exp: Expectation, problems: list[str], note: str
) -> Verdict:
    verdict = Verdict(
        outcome=outcome,
        deviation=exp.deviation if outcome is Outcome.DEVIATION else None,
        problems=problems,
        **base,
    )
    return verdict.model_copy(update={"message": _message(verdict, exp, note)})


def _message(v: Verdict, exp: Expectation, note: str) -> str:
    """'time_wait_s: expected 2.0 s +-0.5 s (2*TCP_MSL, tcp_priv.h), measured 2.04 s;
    evidence pcaps/CL-04.pcapng frames 12, 57'."""
    bound = {Compare.AT_MOST: "at most ", Compare.AT_LEAST: "at least "}.get(exp.compare, "")
    where = v.source + (f"; follows {v.follows}" if v.follows else "")
    text = (
        f"{v.name}: expected {bound}{_with_unit(v.expected, v.unit)}"
        f"{_tolerance(v.tolerance, v.unit)} ({where}), "
        f"measured {_with_unit(v.measured, v.unit)}"
    )
    if v.outcome is Outcome.FAIL:
        text += ": " + "; ".join(v.problems)
        if note:
            text += f" ({note})"
    elif v.outcome is Outcome.DEVIATION:
        text += f" (documented deviation: {v.deviation})"
    return f"{text}; {_evidence(v.evidence)}"


def _with_unit(value: Any, unit: str) -> str:
    return show(value) if unit in _UNITLESS else f"{show(value)} {unit}"


def _tolerance(applied: float | list[float] | None, unit: str) -> str:
    if not applied:
        return ""
    if isinstance(applied, list):
        low, high = min(applied), max(applied)
        if high == 0:
            return ""
        low_text, high_text = show(round(low, 6)), show(round(high, 6))
        span = high_text if low == high else f"{low_text}..{high_text}"
        return f" +-{span} {unit} per element"
    return f" +-{show(round(applied, 6))} {unit}"


def _evidence(evidence: Evidence) -> str:
    parts = []
    if evidence.pcap:
        frames = ", ".join(str(f) for f in evidence.frames)
        parts.append(f"{evidence.pcap} frames {frames}" if frames else evidence.pcap)
    if evidence.console_log:
        parts.append(f"console {evidence.console_log}")
    if evidence.files:
        parts.append(", ".join(evidence.files))
    return "evidence " + "; ".join(parts) if parts else "no evidence recorded"
