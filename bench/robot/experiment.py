"""One measurement inside a Robot test: run it with the DUT profile's options, judge
every figure it returns against that profile, and keep both for the run's results.json.

Kept apart from the keyword class so that the flow (measure -> judge -> record) reads in
one place and can be used without Robot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.inventory import Inventory
from bench.measure.cli import run_options
from bench.measure.peer_session import dut_ip, open_peer
from bench.measure.registry import MEASUREMENTS
from bench.measure.result import Measurement
from bench.model import Peer
from bench.profiles import Profile
from bench.verdict import Verdict, judge_as_measured
from firmware_adapters.dut import Dut


def slug(text: str) -> str:
    """A file-name-safe form of a test or suite name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80] or "test"


def relative(path: str | None, root: Path) -> str | None:
    """Evidence paths relative to the run folder, so a moved run folder keeps its links."""
    if not path:
        return path
    try:
        return os.path.relpath(Path(path).resolve(), root.resolve())
    except ValueError:
        return path


@dataclass
class Judged:
    """A figure and its verdict."""

    measurement: Measurement
    verdict: Verdict


@dataclass
class Experiment:
    """What one measurement gave: every figure, judged."""

    name: str
    figures: list[Judged] = field(default_factory=list)


def run_measurement(inv: Inventory, dut_name: str, dut: Dut, profile: Profile, name: str,
                    evidence_dir: Path, options: dict[str, Any],
                    on_peer: Callable[[Peer], None] | None = None) -> Measurement:
    """Run measurement `name` against the DUT with the profile's options, `options` on top.

    The reference peer captures into `evidence_dir/peer.pcapng`; `on_peer` is told the
    peer as soon as it is open (so a caller can close it if the DUT hangs).
    """
    if name not in MEASUREMENTS:
        known = ", ".join(sorted(MEASUREMENTS))
        raise AssertionError(f"no measurement named {name!r} (known: {known})")
    merged = run_options(inv, profile, name, list(options.items()))
    evidence_dir.mkdir(parents=True, exist_ok=True)
    with open_peer(inv, evidence_dir, dut=dut_name) as peer:
        if on_peer is not None:
            on_peer(peer)
        return MEASUREMENTS[name](dut, peer, dut_ip(inv, dut_name), evidence_dir, **merged)


def judge_all(m: Measurement, dut: Dut, profile: Profile, context: dict[str, Any]) -> Experiment:
    """Judge the measurement and every related figure as the experiment left things."""
    consts = dut.consts()
    out = Experiment(name=m.name)
    for one in m.figures():
        out.figures.append(Judged(one, judge_as_measured(one, profile, consts, context)))
    return out


def record(judged: Judged, run_dir: Path, test: str, dut: str, build: str,
           profile: str) -> dict[str, Any]:
    """The results.json row of one judged figure, evidence paths relative to the run."""
    m = judged.measurement.model_dump(mode="json")
    ev = m["evidence"]
    ev["pcap"] = relative(ev.get("pcap"), run_dir)
    ev["console_log"] = relative(ev.get("console_log"), run_dir)
    ev["files"] = [relative(f, run_dir) for f in ev.get("files", [])]
    return {"test": test, "dut": dut, "build": build, "profile": profile,
            "measurement": m, "verdict": judged.verdict.model_dump(mode="json")}
