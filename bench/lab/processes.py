"""Start lab processes with a record of what was started, and stop only those, by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bench.lab import netns
from bench.lab.state import LabProcess, LabState, process_start_ticks, save


def spawn(state: LabState, state_dir: str, role: str, dut: str | None, ns: str | None,
          argv: Sequence[str], log_path: Path) -> LabProcess:
    """Start `argv` (inside `ns` when given), detached, output to `log_path`; record it
    in the state file before returning, so a crash right after still lets `down` find it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        kwargs = dict(stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        if ns is None:
            proc = subprocess.Popen(list(argv), start_new_session=True, **kwargs)
        else:
            proc = netns.popen_in(ns, argv, **kwargs)
    record = LabProcess(role, dut, proc.pid, process_start_ticks(proc.pid), ns, list(argv))
    state.processes.append(record)
    save(state_dir, state)
    return record


def wait_for_file(path: Path, timeout_s: float, process: LabProcess, what: str) -> str:
    """Wait until `path` exists and is non-empty; fail early if `process` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text().strip()):
            return text
        if not process.alive():
            raise RuntimeError(f"{what}: process {process.pid} ({process.role}) exited early")
        time.sleep(0.01)
    raise TimeoutError(f"{what}: not ready within {timeout_s:.0f} s")


def stop_pid(pid: int, start_ticks: int | None, grace_s: float = 2.0) -> bool:
    """SIGTERM, then SIGKILL after `grace_s`; only while the PID is still the same process
    (start time unchanged). True when something was stopped."""
    if start_ticks is not None and process_start_ticks(pid) != start_ticks:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if process_start_ticks(pid) is None:
            _reap(pid)
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
