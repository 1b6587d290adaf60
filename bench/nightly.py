"""`hilbench nightly`: the whole CI chain in one command with one exit code.

lab up -> run the suites -> compare with the last good run of the store -> report ->
lab down. The lab comes down whatever happened (a failed step, an exception, Ctrl-C, a
CI job cancelled with SIGTERM, the time limit). The suites run in their own process
group, so the time limit and an interrupt stop every Robot process the run started,
and the results written so far still become results.json, a report and a comparison.

Exit codes: 0 all passed and no regression against the baseline; 1 a test or figure
failed, or a regression; 2 the bench could not run (usage, lab up failed); 3 the time
limit stopped the run; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.inventory import Inventory

EXIT_OK, EXIT_FAILED, EXIT_BENCH, EXIT_TIME_LIMIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
ROBOT_STOPPED_RC = 253  # Robot's own code for "execution stopped by the user"
GRACE_S = 20.0  # after SIGINT, Robot writes its outputs; then SIGTERM, then SIGKILL
SUMMARY_FILE = "nightly-summary.md"
STATUS_FILE = "nightly.json"


class Interrupted(BaseException):
    """SIGINT or SIGTERM: stop the run, still report and tear down."""


@dataclass
class NightlyOptions:
    duts: list[str]
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    suites: list[Path] = field(default_factory=lambda: [Path("robot_suites")])
    processes: int = 2
    results_root: Path = Path("results")
    time_limit_s: float | None = None
    baseline: str | None = None  # a run folder or id; default: the last good run
    mapping: list[str] = field(default_factory=list)  # BASE_DUT=CAND_DUT
    fail_on: str = "regression"
    manage_lab: bool = True  # False: the lab (or real hardware) is up already


@dataclass
class NightlyStatus:
    run_dir: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    robot_rc: int | None = None
    stopped: str = ""
    baseline: str = ""
    regressions: int = 0
    report: str = ""
    comparison: str = ""
    exit_code: int = EXIT_OK

    def step(self, name: str, ok: bool, detail: str = "", seconds: float = 0.0) -> None:
        self.steps.append({"step": name, "ok": ok, "detail": detail,
                           "seconds": round(seconds, 1)})


@dataclass
class Chain:
    """The steps nightly calls; tests replace them (the real ones need a lab)."""

    lab_up: Callable[[Inventory, list[str]], None]
    lab_down: Callable[[Inventory], None]
    run_suites: Callable[..., int]  # (inv, inv_path, request) -> rc, in a child process


def _real_chain() -> Chain:
    from bench.lab.down import down
    from bench.lab.up import up
    from bench.robot.runner import run

    def run_suites(inv: Inventory, inv_path: Path, request: Any) -> int:
        return run(inv, inv_path, request)[0]

    return Chain(lab_up=lambda inv, duts: up(inv, only=duts or None,
                                             say=lambda line: print(f"  {line}")),
                 lab_down=lambda inv: down(inv, say=lambda line: print(f"  {line}")) and None,
                 run_suites=run_suites)


# ------------------------------------------------------------------ the run, bounded
def _child(run_suites: Callable[..., int], args: tuple[Any, ...]) -> None:
    os.setsid()  # its own process group: pabot and every Robot process it starts
    # On SIGINT the runner keeps waiting while Robot stops and pabot merges the outputs
    # (a Python handler, unlike SIG_IGN, is not inherited by the processes it starts).
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os._exit(int(run_suites(*args)) & 0xFF)


def _stop_group(proc: multiprocessing.process.BaseProcess, say: Callable[[str], None]) -> None:
    """SIGINT the run's process group (Robot stops and writes its outputs), then
    SIGTERM, then SIGKILL, each after a grace period."""
    for sig, wait_s in ((signal.SIGINT, GRACE_S), (signal.SIGTERM, 5.0),
                        (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        proc.join(wait_s)
        if not proc.is_alive() and not _group_alive(proc.pid):
            break
        say(f"  run still alive after {signal.Signals(sig).name}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_bounded(chain: Chain, args: tuple[Any, ...], time_limit_s: float | None,
                say: Callable[[str], None]) -> tuple[int, str]:
    """Run the suites in a child process group; (rc, why it was stopped or '')."""
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_child, args=(chain.run_suites, args), daemon=False)
    proc.start()
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    try:
        while proc.is_alive():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                say(f"  time limit of {time_limit_s:g} s reached: stopping the run")
                _stop_group(proc, say)
                return ROBOT_STOPPED_RC, f"time limit of {time_limit_s:g} s reached"
            proc.join(1.0 if left is None else min(1.0, max(left, 0.01)))
    except (Interrupted, KeyboardInterrupt):
        say("  interrupted: stopping the run")
        _stop_group(proc, say)
        raise
    rc = proc.exitcode
    return (rc if rc is not None and rc >= 0 else ROBOT_STOPPED_RC), ""


# ------------------------------------------------------------------ after the run
def _finish_results(inv: Inventory, request: Any, run_dir: Path, started: str, rc: int,
                    stopped: str) -> None:
    """results.json exists even when the run was stopped; it says why."""
    from bench.robot.runner import write_results_json

    path = run_dir / "results.json"
    if not path.is_file():
        (run_dir / "parts").mkdir(parents=True, exist_ok=True)
        write_results_json(inv, request, run_dir, started, rc)
    if stopped:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["stopped"] = stopped
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _compare_and_report(opts: NightlyOptions, run_dir: Path, status: NightlyStatus,
                        say: Callable[[str], None]) -> int:
    """Report, comparison with the baseline, the summary; the exit code they give."""
    from bench.report.compare import compare_runs, parse_map
    from bench.report.compare_render import markdown, write_comparison
    from bench.report.html import write_report
    from bench.report.schema import load_results
    from bench.report.store import RunStore, run_verdict

    store = RunStore(opts.results_root)
    results = load_results(run_dir)
    status.report = str(write_report(run_dir))
    verdict, why = run_verdict(results)
    say(f"  run verdict: {verdict}{': ' + why if why else ''}; report {status.report}")
    if opts.baseline:
        base_dir = store.resolve(opts.baseline)
    else:
        entry = store.last_good(opts.duts, exclude=results.run_id)
        base_dir = store.folder(entry) if entry is not None else None
    summary = [f"## hilbench nightly {results.run_id}: {verdict}", "", why or "all passed", ""]
    code = EXIT_OK if verdict == "pass" else EXIT_FAILED
    if base_dir is None:
        summary.append("No earlier passing run of these DUTs in the store: nothing to "
                       "compare with (this run becomes the baseline if it passes).")
        say("  no baseline in the store: comparison skipped")
    else:
        base = load_results(base_dir)
        comparison = compare_runs(base, results, base_dir, run_dir, parse_map(opts.mapping))
        html_path, md_path = write_comparison(comparison, run_dir)
        status.baseline, status.comparison = base.run_id, str(html_path)
        status.regressions = len(comparison.regressions)
        summary.append(markdown(comparison))
        say(f"  compared with {base.run_id}: {status.regressions} regression(s); {md_path}")
        if comparison.exit_code(opts.fail_on):
            code = EXIT_FAILED
    (run_dir / SUMMARY_FILE).write_text("\n".join(summary).rstrip() + "\n", encoding="utf-8")
    store.entries()  # index the new run
    return code


def nightly(inv: Inventory, inv_path: Path, opts: NightlyOptions, chain: Chain | None = None,
            say: Callable[[str], None] = print) -> NightlyStatus:
    """The chain; never leaves the lab up (when it manages it). Returns what happened."""
    from bench.robot.runner import RunRequest, new_run_id

    chain = chain or _real_chain()
    status = NightlyStatus()
    request = RunRequest(duts=opts.duts, include=opts.include, exclude=opts.exclude,
                         suites=opts.suites, processes=opts.processes,
                         results_root=opts.results_root, run_id=f"nightly-{new_run_id()}")
    run_dir = opts.results_root / str(request.run_id)
    status.run_dir = str(run_dir)
    previous = _signals_raise_interrupted()
    lab_up = False
    try:
        if opts.manage_lab:
            say("nightly: lab up")
            t0 = time.monotonic()
            try:
                lab_up = True  # down also cleans a half-built lab
                chain.lab_up(inv, opts.duts)
            except Exception as exc:  # the lab is the bench's part: exit 2, say why
                status.step("lab up", False, str(exc), time.monotonic() - t0)
                status.exit_code = EXIT_BENCH
                say(f"nightly: lab up failed: {exc}")
                return status
            status.step("lab up", True, seconds=time.monotonic() - t0)
        say(f"nightly: run {', '.join(opts.duts)} into {run_dir}")
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        t0 = time.monotonic()
        interrupted = False
        try:
            rc, stopped = run_bounded(chain, (inv, inv_path, request), opts.time_limit_s, say)
        except (Interrupted, KeyboardInterrupt):
            rc, stopped, interrupted = ROBOT_STOPPED_RC, "interrupted", True
        status.robot_rc, status.stopped = rc, stopped
        status.step("run", not stopped and rc == 0, stopped or f"Robot exit code {rc}",
                    time.monotonic() - t0)
        if run_dir.is_dir():
            _finish_results(inv, request, run_dir, started, rc, stopped)
            code = _compare_and_report(opts, run_dir, status, say)
            status.step("report and compare", True)
        else:
            code = EXIT_BENCH
            status.step("report and compare", False, "the run made no run folder")
        status.exit_code = (EXIT_INTERRUPTED if interrupted else
                            EXIT_TIME_LIMIT if stopped else code)
        return status
    except (Interrupted, KeyboardInterrupt):
        status.exit_code = EXIT_INTERRUPTED
        status.step("interrupted", False)
        return status
    finally:
        if lab_up:
            say("nightly: lab down")
            t0 = time.monotonic()
            try:
                chain.lab_down(inv)
                status.step("lab down", True, seconds=time.monotonic() - t0)
            except Exception as exc:  # reported; the exit code must not hide it
                status.step("lab down", False, str(exc), time.monotonic() - t0)
                status.exit_code = status.exit_code or EXIT_BENCH
                say(f"nightly: lab down failed: {exc}")
        _restore_signals(previous)
        if run_dir.is_dir():
            (run_dir / STATUS_FILE).write_text(json.dumps(asdict(status), indent=2) + "\n",
                                               encoding="utf-8")


def _raise_interrupted(signum: int, frame: object) -> None:  # noqa: ARG001
    raise Interrupted(signal.Signals(signum).name)


def _signals_raise_interrupted() -> dict[int, Any]:
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _raise_interrupted)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


# ------------------------------------------------------------------ CLI
def cmd_nightly(args: argparse.Namespace) -> int:
    from bench.cli import duts_named, inventory_from, require_root

    inv = inventory_from(args)
    duts = duts_named(inv, args.dut)
    if not args.no_lab:
        require_root("hilbench nightly (it brings the lab up; --no-lab uses a running one)")
    opts = NightlyOptions(
        duts=duts, include=args.include or [], exclude=args.exclude or [],
        suites=[Path(s) for s in args.suites] or [Path("robot_suites")],
        processes=args.processes, results_root=Path(args.results),
        time_limit_s=args.time_limit, baseline=args.baseline, mapping=args.map or [],
        fail_on=args.fail_on, manage_lab=not args.no_lab)
    status = nightly(inv, Path(args.inventory), opts)
    print(f"nightly: exit {status.exit_code}; run folder {status.run_dir} "
          f"({SUMMARY_FILE}, report-hilbench.html, xunit.xml)")
    return status.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nightly", help="CI: lab up, run, compare with the last good run, "
                       "report, lab down; exit 0 pass, 1 fail/regression, 2 bench error, "
                       "3 time limit, 130 interrupted")
    p.add_argument("--dut", action="append", help="DUT name (repeatable; default: all)")
    p.add_argument("--include", action="append", help="only tests with this tag (repeatable)")
    p.add_argument("--exclude", action="append", help="skip tests with this tag (repeatable)")
    p.add_argument("--processes", type=int, default=2, help="parallel Robot processes")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="stop the run after this long (results so far are still reported)")
    p.add_argument("--baseline", help="compare with this run (default: the newest passing "
                   "run of the same DUTs in the store)")
    p.add_argument("--map", action="append", metavar="BASE_DUT=CAND_DUT",
                   help="DUT name mapping for the comparison (repeatable)")
    p.add_argument("--fail-on", choices=("regression", "verdict", "never"),
                   default="regression", help="what in the comparison fails the job")
    p.add_argument("--results", default="results", help="the results store")
    p.add_argument("--no-lab", action="store_true",
                   help="do not bring the lab up or down (real hardware, or a lab you manage)")
    p.add_argument("suites", nargs="*", help="suite files or folders (default: robot_suites)")
    p.set_defaults(func=cmd_nightly)
