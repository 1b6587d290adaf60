"""`hilbench compare BASE CAND`: what changed between two runs, with both sides' evidence.

Figures are matched by (DUT role, figure name): a role is the CAND DUT's name, and BASE
DUTs map onto roles with `--map BASE_DUT=CAND_DUT` (lwip-m3-stock=lwip-m3-tuned), so two
builds tested on differently named DUTs compare. A figure measured more than once on
one DUT (two tests) is matched by the test name too.

Whether a figure moved reuses bench.verdict.compare: the CAND value is compared with the
BASE value, with a tolerance that neither run's uncertainty nor either profile's slack
can explain away. A move is *documented* when the profile's expected value moved with it
(stock -> tuned: TCP_MSS 536 -> 1460, so offered MSS 536 -> 1460) and CAND still meets
its profile; any other move, and any verdict that got worse, is a *regression*.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bench.measure.result import Tolerance
from bench.report.schema import Figure, Results, RobotTest
from bench.verdict.compare import compare, show
from bench.verdict.model import Outcome


class Change(StrEnum):
    REGRESSION = "regression"  # a verdict got worse (a figure failed, a test failed)
    UNDOCUMENTED = "undocumented"  # moved beyond tolerance, the expectation did not
    IMPROVEMENT = "improvement"  # a verdict got better
    DOCUMENTED = "documented"  # moved, and the profile's expectation moved with it
    VERDICT = "verdict"  # the verdict changed otherwise (pass <-> deviation, not judged)
    MISSING = "missing"  # in BASE only
    NEW = "new"  # in CAND only
    SAME = "same"


REGRESSIONS = (Change.REGRESSION, Change.UNDOCUMENTED)
ORDER = [Change.REGRESSION, Change.UNDOCUMENTED, Change.IMPROVEMENT, Change.DOCUMENTED,
         Change.VERDICT, Change.MISSING, Change.NEW, Change.SAME]
TITLES = {
    Change.REGRESSION: "Regressions: verdicts that got worse",
    Change.UNDOCUMENTED: "Regressions: figures that moved beyond tolerance, not explained "
                         "by the profiles",
    Change.IMPROVEMENT: "Improvements: verdicts that got better",
    Change.DOCUMENTED: "Documented differences: the figure moved as the profiles say it must",
    Change.VERDICT: "Other verdict changes",
    Change.MISSING: "Only in BASE (not measured in CAND)",
    Change.NEW: "Only in CAND (new)",
    Change.SAME: "Unchanged",
}


class MappingError(ValueError):
    """A --map that names a DUT the run does not have."""


@dataclass
class FigureDiff:
    role: str
    name: str
    test: str
    base: Figure | None
    cand: Figure | None
    change: Change
    detail: str = ""  # how it moved: 'offered_mss_bytes 536 -> 1460 bytes (+924)'

    @property
    def regression(self) -> bool:
        return self.change in REGRESSIONS


@dataclass
class TestDiff:
    role: str
    suite: str
    test: str
    base: RobotTest | None
    cand: RobotTest | None
    change: Change

    @property
    def regression(self) -> bool:
        return self.change in REGRESSIONS


@dataclass
class Comparison:
    base: Results
    cand: Results
    base_dir: Path
    cand_dir: Path
    roles: dict[str, str]  # role (CAND DUT) -> BASE DUT
    figures: list[FigureDiff] = field(default_factory=list)
    tests: list[TestDiff] = field(default_factory=list)

    @property
    def regressions(self) -> list[FigureDiff | TestDiff]:
        return [d for d in [*self.figures, *self.tests] if d.regression]

    def count(self, change: Change) -> int:
        return sum(d.change is change for d in [*self.figures, *self.tests])

    def exit_code(self, fail_on: str = "regression") -> int:
        """1 when there is something to fail on: 'regression' (a verdict got worse or a
        figure moved undocumented), 'verdict' (only verdicts), 'never'."""
        if fail_on == "never":
            return 0
        if fail_on == "verdict":
            return int(any(d.change is Change.REGRESSION for d in [*self.figures, *self.tests]))
        return int(bool(self.regressions))


# ---------------------------------------------------------------- matching DUTs
def parse_map(pairs: list[str]) -> dict[str, str]:
    """['stock=tuned'] -> {'stock': 'tuned'} (BASE DUT -> CAND DUT)."""
    mapping = {}
    for pair in pairs:
        base, sep, cand = pair.partition("=")
        if not sep or not base or not cand:
            raise MappingError(f"--map {pair!r}: expected BASE_DUT=CAND_DUT")
        mapping[base] = cand
    return mapping


def roles(base: Results, cand: Results, mapping: dict[str, str]) -> dict[str, str]:
    """role (CAND DUT name) -> BASE DUT name. Unmapped DUTs keep their names; two runs of
    one DUT each are paired even when their names differ."""
    base_duts, cand_duts = base.dut_names(), cand.dut_names()
    for b, c in mapping.items():
        if b not in base_duts:
            raise MappingError(f"--map {b}={c}: BASE has no DUT {b!r} "
                               f"(it has {', '.join(base_duts) or 'none'})")
        if c not in cand_duts:
            raise MappingError(f"--map {b}={c}: CAND has no DUT {c!r} "
                               f"(it has {', '.join(cand_duts) or 'none'})")
    if not mapping and len(base_duts) == 1 and len(cand_duts) == 1:
        mapping = {base_duts[0]: cand_duts[0]}
    out = {c: b for b, c in mapping.items()}
    for name in base_duts:
        if name not in mapping and name not in out:
            out[name] = name
    return out


# ---------------------------------------------------------------- figures
def _keyed(figures: list[Figure], role_of: dict[str, str]) -> dict[tuple[str, str, str], Figure]:
    """(role, name, test) -> figure; the test is '' when the name occurs once per DUT."""
    by_name: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    for fig in figures:
        if fig.dut in role_of:
            by_name[(role_of[fig.dut], fig.name)].append(fig)
    out = {}
    for (role, name), figs in by_name.items():
        if len(figs) == 1:
            out[(role, name, "")] = figs[0]
        else:
            for i, fig in enumerate(figs):
                test = fig.record.test or f"#{i + 1}"
                out.setdefault((role, name, test), fig)
    return out


def _side(fig: Figure) -> tuple[Any, str, float, Tolerance]:
    """(value, unit, the profile tolerance applied, the measurement's own uncertainty),
    in the profile's unit when judged, else as measured."""
    v, m = fig.verdict, fig.measurement
    own = m.tolerance
    if v is not None and v.unit and v.measured is not None:
        applied = v.tolerance
        tol = max(applied) if isinstance(applied, list) and applied else (
            applied if isinstance(applied, int | float) else 0.0)
        scale = _scale(m.unit, v.unit)
        return v.measured, v.unit, float(tol), Tolerance(abs=own.abs * scale, pct=own.pct)
    return m.value, m.unit, 0.0, own


def _scale(have: str, want: str) -> float:
    units = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
    return units[have] / units[want] if have in units and want in units else 1.0


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def moved(base: Figure, cand: Figure) -> tuple[bool, str]:
    """Did the figure move beyond what both runs' tolerances explain? And how."""
    b_value, b_unit, b_tol, b_own = _side(base)
    c_value, c_unit, c_tol, c_own = _side(cand)
    unit = "" if c_unit in ("", "bool") else c_unit
    text = f"{show(b_value)} -> {show(c_value)}{' ' + unit if unit else ''}"
    if b_unit != c_unit:
        return True, f"{text} (unit {b_unit!r} -> {c_unit!r})"
    if b_value is None or c_value is None:
        return b_value != c_value, text
    # either run's uncertainty and either profile's slack may explain a difference
    around_base = Tolerance(abs=max(b_tol, c_tol, b_own.abs), pct=b_own.pct)
    around_cand = Tolerance(abs=c_own.abs, pct=c_own.pct)
    result = compare(c_value, b_value, around_base, around_cand, unit=unit)
    if result.ok:
        return False, text
    if _number(b_value) and _number(c_value):
        delta = c_value - b_value
        tol = max(around_base.allowed(b_value), around_cand.allowed(c_value))
        slack = f"+-{show(round(tol, 6))}" if tol else "exact"
        text += f" ({show(round(delta, 6), sign=True)}, tolerance {slack})"
    elif result.problems:
        text += f" ({'; '.join(result.problems)})"
    return True, text


def _ok(outcome: Outcome | None) -> bool:
    return outcome is not Outcome.FAIL


def classify(base: Figure | None, cand: Figure | None) -> tuple[Change, str]:
    if cand is None:
        return Change.MISSING, ""
    if base is None:
        return Change.NEW, ""
    went, how = moved(base, cand)
    b_out, c_out = base.outcome, cand.outcome
    if _ok(b_out) and not _ok(c_out):
        return Change.REGRESSION, how
    if not _ok(b_out) and _ok(c_out):
        return Change.IMPROVEMENT, how
    if went:
        b_exp = base.verdict.expected if base.verdict is not None else None
        c_exp = cand.verdict.expected if cand.verdict is not None else None
        if c_exp is not None and b_exp != c_exp and _ok(c_out):
            return Change.DOCUMENTED, how + (f"; expected {show(b_exp)} -> {show(c_exp)}")
        return Change.UNDOCUMENTED, how
    if b_out != c_out:
        return Change.VERDICT, how
    return Change.SAME, how


# ---------------------------------------------------------------- tests
_TEST_RANK = {"PASS": 1, "SKIP": 0, "NOT RUN": 0, "FAIL": -1}


def classify_test(base: RobotTest | None, cand: RobotTest | None) -> Change:
    if cand is None:
        return Change.MISSING
    if base is None:
        return Change.NEW
    b, c = _TEST_RANK.get(base.status, 0), _TEST_RANK.get(cand.status, 0)
    if c < 0 <= b:
        return Change.REGRESSION
    if b < 0 <= c:
        return Change.IMPROVEMENT
    return Change.SAME if base.status == cand.status else Change.VERDICT


def compare_runs(base: Results, cand: Results, base_dir: Path, cand_dir: Path,
                 mapping: dict[str, str] | None = None) -> Comparison:
    role_of_cand = {c: c for c in cand.dut_names()}
    role_map = roles(base, cand, mapping or {})
    role_of_base = {b: r for r, b in role_map.items()}
    result = Comparison(base, cand, base_dir, cand_dir, role_map)

    b_figs = _keyed(list(base.figures()), role_of_base)
    c_figs = _keyed(list(cand.figures()), role_of_cand)
    for key in [*b_figs, *(k for k in c_figs if k not in b_figs)]:
        change, detail = classify(b_figs.get(key), c_figs.get(key))
        role, name, test = key
        result.figures.append(FigureDiff(role, name, test, b_figs.get(key), c_figs.get(key),
                                         change, detail))

    def tests_by_key(results: Results, role_of: dict[str, str]) -> dict[tuple, RobotTest]:
        return {(role_of[t.dut], t.suite, t.test): t for t in results.tests
                if t.dut in role_of}

    b_tests = tests_by_key(base, role_of_base)
    c_tests = tests_by_key(cand, role_of_cand)
    for key in [*b_tests, *(k for k in c_tests if k not in b_tests)]:
        role, suite, test = key
        result.tests.append(TestDiff(role, suite, test, b_tests.get(key), c_tests.get(key),
                                     classify_test(b_tests.get(key), c_tests.get(key))))
    return result
