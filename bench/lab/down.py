"""`hilbench lab down`: remove everything the bench made, even after a crash of `up`.

Two sources, so nothing escapes: the state file (processes by PID and start time, the
console relays in the root namespace) and discovery (every namespace with the lab prefix
and every process running inside one; those can only be the bench's).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.inventory.models import Inventory
from bench.lab import netns, processes
from bench.lab import state as lab_state

Progress = Callable[[str], None]


def down(inv: Inventory, say: Progress = print) -> int:
    """Tear the lab down; returns how many objects (processes + namespaces) were removed."""
    prefix, state_dir = inv.lab.prefix, inv.lab.state_dir
    state = lab_state.load(state_dir, prefix)
    removed = 0
    # Recorded processes first, newest first (relays before the DUT they serve).
    for proc in reversed(state.processes):
        if processes.stop_pid(proc.pid, proc.start_ticks):
            say(f"stopped {proc.role} pid {proc.pid}" + (f" ({proc.dut})" if proc.dut else ""))
            removed += 1
    namespaces = sorted(set(state.namespaces) | set(netns.list_with_prefix(prefix)))
    for ns in namespaces:
        for pid in netns.pids_inside(ns):
            if processes.stop_pid(pid, lab_state.process_start_ticks(pid)):
                say(f"stopped pid {pid} found in {ns}")
                removed += 1
    for ns in namespaces:
        netns.remove(ns)
        say(f"removed namespace {ns}")
        removed += 1
    for leftover in Path(state_dir).glob(f"{prefix}*.p*"):  # .pty, .port files
        leftover.unlink(missing_ok=True)
    for sock in Path(state_dir).glob(f"*{prefix}*.sock"):
        sock.unlink(missing_ok=True)
    lab_state.remove(state_dir, prefix)
    return removed
