"""results.json as typed models: what a run folder says happened (docs/results.md).

The runner (bench.robot.runner) writes it; reports, comparisons and history only read
it, through `load_results`, so a bad or foreign file fails once, in one line, naming
the file and the field. Schema "hilbench-results/1"; a reader accepts any 1.x file and
ignores fields it does not know, so adding a field never breaks old readers.

`hilbench measure --out DIR` writes a bare list of {measurement, verdict} records; it
loads too, as a run without tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench.measure.result import Measurement
from bench.verdict.model import Outcome, Verdict

SCHEMA = "hilbench-results/1"
SCHEMA_FAMILY = "hilbench-results/"
SUPPORTED_MAJOR = 1
RESULTS_FILE = "results.json"


class ResultsError(Exception):
    """A results.json that cannot be used; the message is one line: file: field: what."""


class Lenient(BaseModel):
    """Unknown fields are ignored: a newer minor version still loads."""

    model_config = ConfigDict(extra="ignore")


class DutEntry(Lenient):
    """One DUT of the run, as the inventory described it, with the builds it reported."""

    name: str
    kind: str = ""
    profile: str = ""
    builds: list[str] = Field(default_factory=list)


class RobotTest(Lenient):
    """One Robot test on one DUT, as the results listener recorded it."""

    suite: str = ""
    test: str
    dut: str = ""
    build: str = ""
    profile: str = ""
    tags: list[str] = Field(default_factory=list)
    status: str  # PASS, FAIL, SKIP, NOT RUN (Robot's words)
    message: str = ""
    elapsed_s: float = 0.0

    @property
    def behaviours(self) -> list[str]:
        """Catalogue IDs among the tags (HS-07, CL-04, ...)."""
        return [t for t in self.tags if is_behaviour_id(t)]


class MeasurementRecord(Lenient):
    """One measurement as the Robot library recorded it, with its verdict.

    `measurement.related` carries the further figures of the same experiment; their
    verdicts, when the library judged them, are in `related_verdicts` (by name).
    """

    test: str = ""
    dut: str = ""
    build: str = ""
    profile: str = ""
    measurement: Measurement
    verdict: Verdict | None = None
    related_verdicts: list[Verdict] = Field(default_factory=list)


class PowerTrace(Lenient):
    """Current drawn by one DUT during the run: [t_s, amps] pairs (t_s: monotonic)."""

    dut: str
    samples: list[tuple[float, float]] = Field(default_factory=list)


class Results(Lenient):
    """The whole results.json of one run."""

    schema_: str = Field(SCHEMA, alias="schema")
    run_id: str
    started: str = ""
    finished: str = ""
    bench_version: str = ""
    robot_rc: int | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    duts: list[DutEntry] = Field(default_factory=list)
    tests: list[RobotTest] = Field(default_factory=list)
    measurements: list[MeasurementRecord] = Field(default_factory=list)
    power: list[PowerTrace] = Field(default_factory=list)

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def figures(self) -> Iterator[Figure]:
        """Every judged figure in record order: the main one, then its related ones."""
        for index, record in enumerate(self.measurements):
            main = record.measurement.model_copy(update={"related": []})
            yield Figure(record, main, record.verdict, index)
            by_name = {v.name: v for v in record.related_verdicts}
            for part in record.measurement.related:
                yield Figure(record, part, by_name.get(part.name), index)

    def dut_names(self) -> list[str]:
        """DUTs in the order the run lists them, then any only the records name."""
        names = [d.name for d in self.duts]
        for row in [*self.tests, *self.measurements]:
            if row.dut and row.dut not in names:
                names.append(row.dut)
        return names

    def dut(self, name: str) -> DutEntry:
        for entry in self.duts:
            if entry.name == name:
                return entry
        return DutEntry(name=name)


@dataclass(frozen=True)
class Figure:
    """One figure of a record, with its verdict (None when none was recorded)."""

    record: MeasurementRecord
    measurement: Measurement
    verdict: Verdict | None
    index: int  # the record's position in results.json, for anchors

    @property
    def name(self) -> str:
        return self.measurement.name

    @property
    def dut(self) -> str:
        return self.record.dut or self.measurement.dut

    @property
    def outcome(self) -> Outcome | None:
        return self.verdict.outcome if self.verdict is not None else None

    @property
    def behaviours(self) -> list[str]:
        if self.verdict is not None and self.verdict.behaviours:
            return self.verdict.behaviours
        return self.measurement.behaviours


def is_behaviour_id(tag: str) -> bool:
    """'HS-07' yes; 'smoke', 'dut:lwip-m3' no."""
    head, dash, tail = tag.partition("-")
    return bool(dash) and head.isalpha() and head.isupper() and len(head) == 2 \
        and tail.isdigit()


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" not in str(part) and "function-" not in str(part):  # union branch names
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _one_line(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    more = error.error_count() - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {_where(first['loc'])}: {first['msg']}{extra}"


def _check_schema(path: Path, data: dict[str, Any]) -> None:
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_FAMILY):
        raise ResultsError(f"{path}: schema: expected '{SCHEMA}', found {schema!r} "
                           "(not a hilbench results file)")
    version = schema.removeprefix(SCHEMA_FAMILY)
    major = version.split(".")[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise ResultsError(f"{path}: schema: version {version!r} is not supported by this "
                           f"bench (it reads {SCHEMA} and its 1.x successors)")


def _from_measure_cli(path: Path, data: list[Any]) -> dict[str, Any]:
    """`hilbench measure` output (a list of {measurement, verdict}) as a run."""
    records = [dict(r, dut=r.get("measurement", {}).get("dut", "")) if isinstance(r, dict)
               else r for r in data]
    duts = sorted({r["dut"] for r in records if isinstance(r, dict) and r.get("dut")})
    return {"schema": SCHEMA, "run_id": path.parent.name,
            "duts": [{"name": d} for d in duts], "measurements": records}


def results_path(run: Path) -> Path:
    """A run folder or its results.json -> the results.json path."""
    return run / RESULTS_FILE if run.is_dir() else run


def load_results(run: Path) -> Results:
    """Read and validate a run's results.json; ResultsError (one line) if unusable."""
    path = results_path(run)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file (is {run} a run folder?)") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: not JSON: {exc}") from None
    if isinstance(data, list):
        data = _from_measure_cli(path, data)
    elif isinstance(data, dict):
        _check_schema(path, data)
    else:
        raise ResultsError(f"{path}: (top level): expected an object with schema "
                           f"'{SCHEMA}', found {type(data).__name__}")
    try:
        return Results.model_validate(data)
    except ValidationError as exc:
        raise ResultsError(_one_line(path, exc)) from None
