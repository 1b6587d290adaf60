"""A profile as pydantic models: the YAML maps one to one onto these fields.

A profile says, for one TCP implementation, what each measurement should find: the value
(a literal, a formula, a DUT constant, or a choice by a DUT constant), its unit, where
the number comes from, how exactly it can be measured, and, where the stack
legitimately departs from the behaviour catalogue, why.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.measure.result import Tolerance
from bench.profiles import expr

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CONST_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VALUE_KEYS = ("value", "expr", "from_const", "by")

Literal_ = float | int | bool | str | list[float] | list[int] | list[str] | None


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a profile must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ToleranceSpec(Strict):
    """How far a measurement may be from the expected value: max(abs, pct % of it)."""

    abs: float = Field(0.0, ge=0)
    pct: float = Field(0.0, ge=0, le=100)
    why: str = ""

    def tolerance(self) -> Tolerance:
        return Tolerance(abs=self.abs, pct=self.pct, why=self.why)


class ConstSpec(Strict):
    """A documented constant: used when the DUT does not report it in `consts`."""

    value: Literal_
    source: str = Field(min_length=1)
    note: str = ""


class ValueSpec(Strict):
    """Where a value comes from; exactly one of value / expr / from_const / by.

    - value: a literal (null = the stack documents no value: not judged)
    - expr: a formula over consts and context, e.g. `2 * TCP_MSL / 1000`
    - from_const: a DUT constant, e.g. `tcp_synack_retries`; with `expr`, the formula
      says how the value follows it (`from_const` then documents the dependency)
    - by + cases: a choice by a DUT constant, e.g. by tcp_congestion_control
    """

    value: Literal_ = None
    expr: str | None = None
    from_const: str | None = None
    by: str | None = None
    cases: dict[str, Literal_] | None = None

    @field_validator("expr")
    @classmethod
    def _formula(cls, text: str | None) -> str | None:
        if text is not None:
            expr.parse(text)
        return text

    @field_validator("from_const", "by")
    @classmethod
    def _const_name(cls, name: str | None) -> str | None:
        if name is not None and not CONST_NAME.match(name):
            raise ValueError(f"{name!r} is not a constant name")
        return name

    @model_validator(mode="after")
    def _one_source(self) -> ValueSpec:
        given = [k for k in VALUE_KEYS if k in self.model_fields_set]
        if "from_const" in given and "expr" in given:
            given.remove("expr")  # from_const + expr: the formula of that constant
        if len(given) != 1:
            raise ValueError(
                "give exactly one of value, expr, from_const, by"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if (self.by is None) != (self.cases is None):
            raise ValueError("`by` and `cases` go together")
        if self.from_const and self.expr and self.from_const not in expr.names_in(self.expr):
            raise ValueError(f"expr does not use from_const {self.from_const!r}")
        return self


class Compare(StrEnum):
    EQUAL = "equal"  # |measured - expected| <= tolerance
    AT_MOST = "at_most"  # measured <= expected + tolerance (a documented upper bound)
    AT_LEAST = "at_least"  # measured >= expected - tolerance


class Length(StrEnum):
    EXACT = "exact"  # a list must have exactly the expected number of elements
    PREFIX = "prefix"  # the measurement may stop early (a long schedule, a test time limit)


class Expectation(ValueSpec):
    """What one measurement should find on this stack."""

    unit: str = Field(min_length=1)
    source: str = Field(min_length=1)
    tolerance: ToleranceSpec | None = None  # None: the profile's tolerance for the unit
    compare: Compare = Compare.EQUAL
    length: Length = Length.EXACT
    repeat_last: bool = False  # the schedule continues with its last interval
    deviation: str | None = None  # why this stack departs from the catalogue
    generic: ValueSpec | None = None  # what the catalogue expects, where it differs
    behaviours: list[str] = []
    note: str = ""

    @field_validator("behaviours")
    @classmethod
    def _ids(cls, ids: list[str]) -> list[str]:
        for i in ids:
            if not re.match(r"^[A-Z]{2}-\d{2}$", i):
                raise ValueError(f"{i!r} is not a behaviour ID like HS-07")
        return ids

    @model_validator(mode="after")
    def _generic_needs_deviation(self) -> Expectation:
        if self.generic is not None and not self.deviation:
            raise ValueError("`generic` only makes sense with a `deviation` saying why")
        return self


class Profile(Strict):
    """One TCP implementation's documented behaviour, inheritance already resolved."""

    name: str
    stack: str = Field(min_length=1)
    description: str = ""
    inherits: str | None = None
    consts: dict[str, ConstSpec] = {}
    tolerance_by_unit: dict[str, ToleranceSpec] = {}
    expect: dict[str, Expectation]
    # How the bench measures this stack: options per measurement name (where to probe,
    # how long to wait, sysctls that shorten a timer). They change how long a measurement
    # takes, never what is expected: the verdict still comes from `expect`.
    measure: dict[str, dict[str, Any]] = {}

    @field_validator("consts")
    @classmethod
    def _const_names(cls, consts: dict[str, ConstSpec]) -> dict[str, ConstSpec]:
        for key in consts:
            if not CONST_NAME.match(key):
                raise ValueError(f"{key!r} is not a constant name")
        return consts

    @field_validator("expect")
    @classmethod
    def _names(cls, expect: dict[str, Expectation]) -> dict[str, Expectation]:
        for key in expect:
            if not NAME.match(key):
                raise ValueError(f"{key!r} is not a snake_case measurement name")
        return expect

    @field_validator("measure")
    @classmethod
    def _measure_names(cls, measure: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for key in measure:
            if not NAME.match(key):
                raise ValueError(f"{key!r} is not a snake_case measurement name")
        return measure

    def options_for(self, measurement: str) -> dict[str, Any]:
        """The options this profile gives a measurement (empty when it gives none)."""
        return dict(self.measure.get(measurement, {}))

    def tolerance_for(self, expectation: Expectation) -> Tolerance:
        """The expectation's own tolerance, else the profile's for its unit, else exact."""
        spec = expectation.tolerance or self.tolerance_by_unit.get(expectation.unit)
        return spec.tolerance() if spec else Tolerance(why="exact")

    def documented(self) -> dict[str, Any]:
        """The profile's constants by name (the fallback when the DUT reports none)."""
        return {key: spec.value for key, spec in self.consts.items()}
