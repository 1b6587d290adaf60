"""The results store: a folder of run folders (results/<run-id>/results.json) and an
index of them (results/index.json: run id, time, DUTs, builds, overall verdict) so that
history and the nightly baseline find runs without opening every one.

The index is a cache, never the truth: it is rebuilt from the run folders whenever a
results.json is new or changed (by mtime), so deleting it, or copying run folders in
from a CI artifact, is always safe.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from bench.report.schema import RESULTS_FILE, Results, ResultsError, load_results
from bench.verdict.model import Outcome

INDEX_FILE = "index.json"
INDEX_SCHEMA = "hilbench-index/1"
DEFAULT_ROOT = Path("results")
ROBOT_ERROR_RC = 250  # Robot's rc 251..255: usage errors, interrupted, no tests found

RunVerdict = Literal["pass", "fail", "error"]


class RunDut(BaseModel):
    name: str
    profile: str = ""
    builds: list[str] = Field(default_factory=list)


class RunEntry(BaseModel):
    """One run as history sees it."""

    run_id: str
    path: str  # the run folder, relative to the store root
    started: str = ""
    finished: str = ""
    duts: list[RunDut] = Field(default_factory=list)
    verdict: RunVerdict
    why: str = ""  # what made it fail, or why it could not be read
    tests: int = 0
    tests_failed: int = 0
    figures: int = 0
    figures_failed: int = 0
    mtime_ns: int = 0

    def build_of(self, dut: str) -> str:
        for d in self.duts:
            if d.name == dut:
                return ", ".join(d.builds) or "?"
        return "?"


class Index(BaseModel):
    schema_: str = Field(INDEX_SCHEMA, alias="schema")
    runs: list[RunEntry] = Field(default_factory=list)

    model_config = {"populate_by_name": True}


def run_verdict(results: Results) -> tuple[RunVerdict, str]:
    """pass, or fail/error with the reason: a failed test, a failed figure, Robot's rc."""
    failed_tests = [t for t in results.tests if t.status == "FAIL"]
    failed_figures = [f for f in results.figures() if f.outcome is Outcome.FAIL]
    if results.robot_rc is not None and results.robot_rc > ROBOT_ERROR_RC:
        return "error", f"Robot exit code {results.robot_rc} (an execution error)"
    if failed_tests or failed_figures:
        parts = []
        if failed_tests:
            parts.append(f"{len(failed_tests)} test(s) failed")
        if failed_figures:
            parts.append(f"{len(failed_figures)} figure(s) failed their profile")
        return "fail", ", ".join(parts)
    if results.robot_rc:
        return "fail", f"Robot exit code {results.robot_rc}"
    return "pass", ""


def entry_for(results: Results, path: str, mtime_ns: int) -> RunEntry:
    verdict, why = run_verdict(results)
    figures = list(results.figures())
    duts = [RunDut(name=n, profile=results.dut(n).profile, builds=results.dut(n).builds)
            for n in results.dut_names()]
    return RunEntry(
        run_id=results.run_id, path=path, started=results.started, finished=results.finished,
        duts=duts, verdict=verdict, why=why, tests=len(results.tests),
        tests_failed=sum(t.status == "FAIL" for t in results.tests), figures=len(figures),
        figures_failed=sum(f.outcome is Outcome.FAIL for f in figures),
        mtime_ns=mtime_ns)


class RunStore:
    """The run folders under `root` and their index."""

    def __init__(self, root: Path = DEFAULT_ROOT):
        self.root = root
        self.index_path = root / INDEX_FILE

    def _read_index(self) -> dict[str, RunEntry]:
        try:
            index = Index.model_validate_json(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or unreadable: rebuilt from the folders
        return {e.path: e for e in index.runs}

    def _write_index(self, entries: list[RunEntry]) -> None:
        text = Index(runs=entries).model_dump_json(indent=1, by_alias=True)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".index-", dir=self.root)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text + "\n")
            os.replace(tmp, self.index_path)
        except OSError:
            pass  # a read-only store (a CI artifact) still answers, just unindexed

    def entries(self) -> list[RunEntry]:
        """Every run in the store, oldest first; refreshes the index if anything changed."""
        cached = self._read_index()
        found: list[RunEntry] = []
        changed = False
        for results_file in sorted(self.root.glob(f"*/{RESULTS_FILE}")):
            folder = results_file.parent.name
            mtime = results_file.stat().st_mtime_ns
            entry = cached.get(folder)
            if entry is None or entry.mtime_ns != mtime:
                entry = self._entry(results_file, folder, mtime)
                changed = True
            found.append(entry)
        changed |= len(found) != len(cached)
        found.sort(key=lambda e: (e.started, e.run_id))
        if changed and self.root.is_dir():
            self._write_index(found)
        return found

    @staticmethod
    def _entry(results_file: Path, folder: str, mtime: int) -> RunEntry:
        try:
            return entry_for(load_results(results_file), folder, mtime)
        except ResultsError as exc:
            return RunEntry(run_id=folder, path=folder, verdict="error", why=str(exc),
                            mtime_ns=mtime)

    def folder(self, entry: RunEntry) -> Path:
        return self.root / entry.path

    def resolve(self, ref: str) -> Path:
        """A run folder (or a results file) from a path, a run id in the store, or
        'latest'."""
        as_path = Path(ref)
        if as_path.exists():
            return as_path
        if ref == "latest":
            runs = self.entries()
            if not runs:
                raise ResultsError(f"{self.root}: no runs in the store")
            return self.folder(runs[-1])
        if (self.root / ref).is_dir():
            return self.root / ref
        raise ResultsError(f"{ref}: no such run folder, and no run {ref!r} in {self.root}")

    def last_good(self, duts: list[str], exclude: str | None = None) -> RunEntry | None:
        """The newest passing run that tested all of `duts` (any DUT when empty)."""
        for entry in reversed(self.entries()):
            names = {d.name for d in entry.duts}
            if entry.run_id == exclude or entry.path == exclude or entry.verdict != "pass":
                continue
            if set(duts) <= names and names:
                return entry
        return None
