"""`hilbench nightly`: the chain's order, the lab always torn down, the time limit and the
exit codes, with the lab and the suites replaced by stand-ins (no root needed)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bench import nightly as nightly_mod
from bench.inventory import load
from bench.nightly import (
    EXIT_BENCH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIME_LIMIT,
    Chain,
    NightlyOptions,
    nightly,
)
from tests.unit.report_runs import Variant, write_run

BOARD = Variant("lwip-m3", "lwip-2.1.3-ci-fast", "59646f1-ci-fast-0457cace", 536, False, None,
                False, 2144, 4, 2.1, [3.9, 1.4])


class Recorder:
    def __init__(self, run: Any = None, up_fails: bool = False):
        self.calls: list[str] = []
        self.run = run
        self.up_fails = up_fails

    def chain(self) -> Chain:
        def lab_up(inv: Any, duts: list[str]) -> None:
            self.calls.append("up")
            if self.up_fails:
                raise RuntimeError("qemu-system-arm not found")

        def lab_down(inv: Any) -> None:
            self.calls.append("down")

        return Chain(lab_up=lab_up, lab_down=lab_down, run_suites=self.run)


def passing_run(inv: Any, inv_path: Path, request: Any) -> int:
    write_run(request.results_root, request.run_id, BOARD,
              started=time.strftime("%Y-%m-%dT%H:%M:%S+0000"))
    return 0


def regressed_run(inv: Any, inv_path: Path, request: Any) -> int:
    write_run(request.results_root, request.run_id, BOARD,
              started=time.strftime("%Y-%m-%dT%H:%M:%S+0000"), override={"time_wait_s": 120.0})
    return 1


def hanging_run(inv: Any, inv_path: Path, request: Any) -> int:
    (request.results_root / request.run_id / "parts").mkdir(parents=True)
    time.sleep(60)
    return 0


def crashing_run(inv: Any, inv_path: Path, request: Any) -> int:
    raise RuntimeError("pabot crashed")


@pytest.fixture
def opts(tmp_path: Path) -> NightlyOptions:
    return NightlyOptions(duts=["lwip-m3"], results_root=tmp_path)


def run(opts: NightlyOptions, rec: Recorder) -> nightly_mod.NightlyStatus:
    return nightly(load(), Path("inventory.yaml"), opts, rec.chain(), say=lambda line: None)


def test_pass_then_regression_against_the_last_good_run(opts: NightlyOptions) -> None:
    rec = Recorder(passing_run)
    first = run(opts, rec)
    assert first.exit_code == EXIT_OK and rec.calls == ["up", "down"]
    assert first.baseline == ""  # nothing to compare with yet
    first_dir = Path(first.run_dir)
    assert (first_dir / "report-hilbench.html").is_file()
    assert "nothing to compare with" in (first_dir / "nightly-summary.md").read_text()

    time.sleep(1.1)  # run ids and start times are per second
    second = run(opts, Recorder(regressed_run))
    assert second.exit_code == EXIT_FAILED
    assert second.baseline == first_dir.name and second.regressions >= 1
    summary = (Path(second.run_dir) / "nightly-summary.md").read_text()
    assert "`time_wait_s`" in summary and "2.1 -> 120.0 s" in summary
    status = json.loads((Path(second.run_dir) / "nightly.json").read_text())
    assert [s["step"] for s in status["steps"]] == ["lab up", "run", "report and compare",
                                                    "lab down"]


def test_lab_comes_down_when_the_run_crashes(opts: NightlyOptions) -> None:
    rec = Recorder(crashing_run)
    status = run(opts, rec)
    assert rec.calls == ["up", "down"]
    assert status.exit_code == EXIT_BENCH  # the runner died before making its folder
    assert status.steps[-2] == {"step": "report and compare", "ok": False,
                                "detail": "the run made no run folder", "seconds": 0.0}


def test_lab_up_failure_is_a_bench_error_and_still_tears_down(opts: NightlyOptions) -> None:
    rec = Recorder(passing_run, up_fails=True)
    status = run(opts, rec)
    assert status.exit_code == EXIT_BENCH and rec.calls == ["up", "down"]
    assert status.steps[0]["detail"] == "qemu-system-arm not found"


def test_time_limit_stops_the_run_and_still_reports(opts: NightlyOptions,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nightly_mod, "GRACE_S", 0.5)
    opts.time_limit_s = 1.0
    rec = Recorder(hanging_run)
    started = time.monotonic()
    status = run(opts, rec)
    assert time.monotonic() - started < 15
    assert status.exit_code == EXIT_TIME_LIMIT and rec.calls == ["up", "down"]
    results = json.loads((Path(status.run_dir) / "results.json").read_text())
    assert results["stopped"] == "time limit of 1 s reached" and results["robot_rc"] == 253
    assert (Path(status.run_dir) / "report-hilbench.html").is_file()


def test_sigterm_interrupts_tears_down_and_exits_130(opts: NightlyOptions) -> None:
    def cancel_soon(inv: Any, duts: list[str]) -> None:
        rec.calls.append("up")
        signal.setitimer(signal.ITIMER_REAL, 0.5)

    previous = signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    try:
        rec = Recorder(hanging_run)
        chain = rec.chain()
        chain.lab_up = cancel_soon
        nightly_mod.GRACE_S, grace = 0.5, nightly_mod.GRACE_S
        try:
            status = nightly(load(), Path("inventory.yaml"), opts, chain, say=lambda line: None)
        finally:
            nightly_mod.GRACE_S = grace
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert status.exit_code == EXIT_INTERRUPTED and rec.calls == ["up", "down"]
    assert signal.getsignal(signal.SIGTERM) is not nightly_mod._raise_interrupted
