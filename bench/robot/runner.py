"""`hilbench run`: the suites on one or more DUTs, in parallel with pabot, into
`results/<run-id>/` (Robot's outputs, xunit, results.json, consoles, pcaps, plots).

The inventory's DUTs become PabotLib value sets, so a DUT is used by one suite at a
time; each DUT gets its own argument file, so pabot runs every suite once per DUT.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import __version__
from bench.inventory import Inventory
from bench.power import currents_during
from bench.robot.catalogue import behaviour_ids
from bench.robot.session import read_parts

SUITES_DIR = Path("robot_suites")
RESULTS_ROOT = Path("results")
SCHEMA = "hilbench-results/1"


@dataclass
class RunRequest:
    duts: list[str]
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    suites: list[Path] = field(default_factory=lambda: [SUITES_DIR])
    processes: int = 2
    results_root: Path = RESULTS_ROOT
    run_id: str | None = None
    dryrun: bool = False


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def write_value_sets(inv: Inventory, duts: list[str], path: Path) -> None:
    """One PabotLib value set per DUT, tagged with its name."""
    lines = []
    for name in duts:
        entry = inv.dut(name)
        lines += [f"[{name}]", f"tags={name}", f"DUT={name}", f"PROFILE={entry.profile}", ""]
    path.write_text("\n".join(lines))


def pabot_command(inv_path: Path, request: RunRequest, run_dir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pabot.pabot", "--command", sys.executable, "-m", "robot",
           "--end-command", "--processes", str(request.processes), "--pabotlibport", "0",
           "--resourcefile", str(run_dir / "valuesets.dat")]
    for index, name in enumerate(request.duts, start=1):
        args = run_dir / f"args-{name}.txt"
        args.write_text(f"--variable DUT:{name}\n--metadata DUT:{name}\n--settag dut:{name}\n")
        cmd += [f"--argumentfile{index}", str(args)]
    cmd += ["--outputdir", str(run_dir), "--xunit", "xunit.xml",
            "--variable", f"RUN_DIR:{run_dir.resolve()}",
            "--variable", f"INVENTORY:{inv_path.resolve()}",
            "--listener", f"bench.robot.listener.ResultsListener:{run_dir.resolve()}",
            "--tagstatexclude", "dut:*"]
    # report.html's tag statistics: every behaviour ID, and the ID on each DUT
    for behaviour in behaviour_ids():
        for name in request.duts:
            cmd += ["--tagstatcombine", f"{behaviour} AND dut:{name}:{behaviour} on {name}"]
    for tag in request.include:
        cmd += ["--include", tag]
    for tag in request.exclude:
        cmd += ["--exclude", tag]
    if request.dryrun:
        cmd.append("--dryrun")
    return cmd + [str(s) for s in request.suites]


def write_results_json(inv: Inventory, request: RunRequest, run_dir: Path, started: str,
                       rc: int, power: list[dict[str, Any]] | None = None) -> Path:
    tests = read_parts(run_dir, "tests")
    measurements = read_parts(run_dir, "measurements")
    duts = []
    for name in request.duts:
        builds = sorted({t["build"] for t in tests if t["dut"] == name and t["build"]})
        duts.append({"name": name, "kind": inv.dut(name).kind.value,
                     "profile": inv.dut(name).profile, "builds": builds})
    doc = {"schema": SCHEMA, "run_id": run_dir.name, "started": started,
           "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "bench_version": __version__,
           "robot_rc": rc, "include": request.include, "exclude": request.exclude,
           "duts": duts, "tests": tests, "measurements": measurements, "power": power or []}
    path = run_dir / "results.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def run(inv: Inventory, inv_path: Path, request: RunRequest) -> tuple[int, Path]:
    """Run the suites; return Robot's exit code and the run folder."""
    run_dir = request.results_root / (request.run_id or new_run_id())
    for sub in ("consoles", "pcaps", "plots", "parts"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    write_value_sets(inv, request.duts, run_dir / "valuesets.dat")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    cmd = pabot_command(inv_path, request, run_dir)
    (run_dir / "command.txt").write_text(" ".join(cmd) + "\n")
    powers = {name: p for name in request.duts if (p := inv.dut(name).power) is not None}
    with currents_during(powers) as power:
        rc = subprocess.call(cmd)
    write_results_json(inv, request, run_dir, started, rc, power)
    return rc, run_dir
