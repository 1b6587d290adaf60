"""What `lab up` made, written as it goes, so `lab down` can undo a half-built lab.

Processes are recorded with their kernel start time: a PID is only signalled while it
still names the process the bench started (PIDs are reused).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if gone or a zombie
    (a dead child not yet reaped must not count as running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@dataclass
class LabProcess:
    role: str  # "agent", "qemu", "relay", "impair"
    dut: str | None
    pid: int
    start_ticks: int | None
    netns: str | None
    argv: list[str]

    def alive(self) -> bool:
        ticks = process_start_ticks(self.pid)
        return ticks is not None and ticks == self.start_ticks


@dataclass
class LabState:
    prefix: str
    namespaces: list[str] = field(default_factory=list)
    processes: list[LabProcess] = field(default_factory=list)
    consoles: dict[str, dict[str, str]] = field(default_factory=dict)  # dut -> url, pty, log
    extra: dict[str, str] = field(default_factory=dict)


def state_path(state_dir: str, prefix: str) -> Path:
    return Path(state_dir) / f"{prefix}lab.json"


def load(state_dir: str, prefix: str) -> LabState:
    path = state_path(state_dir, prefix)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return LabState(prefix)
    procs = [LabProcess(**p) for p in raw.get("processes", [])]
    return LabState(raw.get("prefix", prefix), raw.get("namespaces", []), procs,
                    raw.get("consoles", {}), raw.get("extra", {}))


def save(state_dir: str, state: LabState) -> None:
    """Atomic write: a crash mid-write leaves the previous state, never half a file."""
    path = state_path(state_dir, state.prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    os.replace(tmp, path)


def remove(state_dir: str, prefix: str) -> None:
    state_path(state_dir, prefix).unlink(missing_ok=True)
