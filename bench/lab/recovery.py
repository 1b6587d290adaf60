"""Bring a hung DUT back: power-cycle it, wait for its boot, give it its link again.

A board with a `power:` entry is cycled through its supply. An emulated board's power is
QEMU's monitor (driver `qemu-qmp`: stop, system_reset, cont). A QEMU process that was
frozen from outside (SIGSTOP: how the tests hang a board) cannot answer its monitor, so
it is thawed first: for a lab process the bench started itself, by the PID it recorded.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from bench.inventory import Inventory
from bench.inventory.models import Dut as DutEntry
from bench.inventory.models import DutKind, Power
from bench.lab import state as lab_state
from bench.power import PowerCycle, open_supply, power_cycle
from firmware_adapters.dut import Dut


class NoPowerPath(Exception):
    """The DUT has no way to be power-cycled (no `power:` entry, not emulated)."""


@dataclass
class Recovery:
    """What the recovery did: evidence for the report next to the failed test."""

    dut: str
    thawed: bool
    cycle: PowerCycle
    boot_s: float  # power-on to the console's boot event (monotonic clock)
    build: str


def qemu_process(inv: Inventory, name: str) -> lab_state.LabProcess | None:
    """The running QEMU the lab started for DUT `name`."""
    state = lab_state.load(inv.lab.state_dir, inv.lab.prefix)
    for proc in state.processes:
        if proc.role == "qemu" and proc.dut == name and proc.alive():
            return proc
    return None


def is_stopped(pid: int) -> bool:
    """True when the process is stopped by a signal (state T in /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def power_of(inv: Inventory, entry: DutEntry) -> Power:
    """The DUT's supply: its `power:` entry, or for an emulated board the QEMU monitor."""
    if entry.power is not None:
        return entry.power
    if entry.kind is DutKind.SIM_QEMU:
        state = lab_state.load(inv.lab.state_dir, inv.lab.prefix)
        qmp = state.consoles.get(entry.name, {}).get("qmp")
        if qmp:
            return Power(resource=f"qmp:{qmp}", driver="qemu-qmp")
    raise NoPowerPath(f"DUT {entry.name} has no power control (no 'power:' in the inventory)")


def thaw(inv: Inventory, name: str) -> bool:
    """Resume the lab's QEMU for `name` if something stopped it; True if it was stopped."""
    proc = qemu_process(inv, name)
    if proc is None or not is_stopped(proc.pid):
        return False
    os.kill(proc.pid, signal.SIGCONT)
    return True


def recover(inv: Inventory, name: str, dut: Dut, boot_timeout_s: float = 15.0) -> Recovery:
    """Power-cycle DUT `name`, wait for its boot event on the already open console `dut`,
    and apply the inventory's address and MTU again (a rebooted board forgets them)."""
    entry = inv.dut(name)
    supply_power = power_of(inv, entry)
    thawed = thaw(inv, name) if entry.kind is DutKind.SIM_QEMU else False
    supply = open_supply(supply_power)
    try:
        cycle = power_cycle(supply, off_s=0.2, settle_s=0.0)
    finally:
        supply.close()
    dut.wait_event("boot", boot_timeout_s)
    boot_s = time.monotonic() - cycle.ended_s
    settings: dict[str, object] = {"addr": str(entry.link.address), "mtu": entry.link.mtu}
    if entry.link.gateway is not None:
        settings["gw"] = str(entry.link.gateway)
    if entry.kind is not DutKind.SIM_LINUX:
        dut.link_set(**settings)
    return Recovery(dut=name, thawed=thawed, cycle=cycle, boot_s=round(boot_s, 3),
                    build=dut.hello().build)
