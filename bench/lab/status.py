"""`hilbench lab status`: what is up, with PIDs, and whether each DUT's console answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.inventory.models import Inventory
from bench.lab import links, netns
from bench.lab import state as lab_state
from bench.lab.access import DutSession
from firmware_adapters.errors import DutError


@dataclass
class DutHealth:
    name: str
    console: str
    answer: str
    healthy: bool


@dataclass
class LabStatus:
    namespaces: dict[str, list[str]] = field(default_factory=dict)  # ns -> interfaces
    processes: list[tuple[str, str, int, bool]] = field(default_factory=list)
    duts: list[DutHealth] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return bool(self.namespaces)


def status(inv: Inventory, check_consoles: bool = True) -> LabStatus:
    state = lab_state.load(inv.lab.state_dir, inv.lab.prefix)
    result = LabStatus()
    for ns in netns.list_with_prefix(inv.lab.prefix):
        result.namespaces[ns] = links.link_names(ns)
    for proc in state.processes:
        result.processes.append((proc.role, proc.dut or "-", proc.pid, proc.alive()))
    if not check_consoles:
        return result
    for dut in inv.duts:
        console = state.consoles.get(dut.name, {}).get("url") or dut.console.url or "-"
        if dut.kind.simulated and dut.name not in state.consoles:
            result.duts.append(DutHealth(dut.name, console, "not started", False))
            continue
        try:
            with DutSession(inv, dut.name, timeout_s=1.5) as session:
                hello = session.hello()
            result.duts.append(DutHealth(dut.name, console,
                                         f"{hello.stack} build {hello.build}", True))
        except DutError as exc:
            result.duts.append(DutHealth(dut.name, console, str(exc).split(": ", 1)[-1], False))
    return result
