"""`hilbench run`: the Robot suites on DUTs from the inventory."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_run(args: argparse.Namespace) -> int:
    from bench.cli import duts_named, inventory_from
    from bench.robot.runner import RunRequest, run

    inv = inventory_from(args)
    duts = duts_named(inv, args.dut)
    request = RunRequest(duts=duts, include=args.include or [], exclude=args.exclude or [],
                         suites=[Path(s) for s in args.suites] or [Path("robot_suites")],
                         processes=args.processes, dryrun=args.dryrun)
    rc, run_dir = run(inv, Path(args.inventory), request)
    print(f"run folder: {run_dir} (report.html, log.html, xunit.xml, results.json)")
    return rc


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the Robot suites on DUTs (in parallel with pabot); "
                       "exit code as Robot's")
    p.add_argument("--dut", action="append", help="DUT name (repeatable; default: all)")
    p.add_argument("--include", action="append", help="only tests with this tag (repeatable)")
    p.add_argument("--exclude", action="append", help="skip tests with this tag (repeatable)")
    p.add_argument("--processes", type=int, default=2, help="parallel Robot processes")
    p.add_argument("--dryrun", action="store_true", help="check the suites without running")
    p.add_argument("suites", nargs="*", help="suite files or folders (default: robot_suites)")
    p.set_defaults(func=cmd_run)
