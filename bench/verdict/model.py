"""A verdict: one measurement judged against the DUT's profile; serialises to JSON as is."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from bench.measure.result import Evidence, Value


class Outcome(StrEnum):
    PASS = "pass"  # the stack does what its profile documents
    FAIL = "fail"  # it does not
    DEVIATION = "deviation"  # it does what its profile documents, which departs from the
    # catalogue's generic behaviour for a reason the profile states
    NOT_JUDGED = "not_judged"  # no expectation, a null one, or one that needs missing names


class Verdict(BaseModel):
    """What was expected, what was measured, how much slack was allowed, and why."""

    name: str
    dut: str
    profile: str
    outcome: Outcome
    expected: Value | list[str] = None
    measured: Value | list[str] = None
    unit: str = ""
    tolerance: float | list[float] | None = None  # applied, in `unit` (per element for lists)
    tolerance_why: str = ""
    source: str = ""
    follows: str = ""  # e.g. 'tcp_synack_retries=2 from the DUT'
    deviation: str | None = None
    behaviours: list[str] = Field(default_factory=list)
    evidence: Evidence = Evidence()
    problems: list[str] = Field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        """Nothing for a suite to fail on: pass, documented deviation, or not judged."""
        return self.outcome is not Outcome.FAIL
