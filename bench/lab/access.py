"""Open a DUT by its inventory name: console URL from the inventory or the running lab,
the adapter its entry names, an exclusive lock, and a console log in the run folder."""

from __future__ import annotations

from pathlib import Path

from bench.inventory.models import Inventory
from bench.lab import state as lab_state
from bench.lock import Busy, ResourceLock
from firmware_adapters import open_adapter
from firmware_adapters.dut import Dut
from firmware_adapters.errors import ConsoleBusy, ConsoleUnavailable


def console_url(inv: Inventory, name: str) -> str:
    """The pyserial URL of a DUT's console (simulated DUTs: the lab's relay)."""
    dut = inv.dut(name)
    if dut.console.url is not None:
        return dut.console.url
    state = lab_state.load(inv.lab.state_dir, inv.lab.prefix)
    entry = state.consoles.get(name)
    if not entry or "url" not in entry:
        raise ConsoleUnavailable(
            name, f"simulated DUT {name} has no console: the lab is not up (run 'hilbench lab up')"
        )
    return entry["url"]


class DutSession:
    """`with DutSession(inv, "lwip-m3", log_dir) as dut:` holds the DUT exclusively."""

    def __init__(self, inv: Inventory, name: str, log_dir: Path | None = None,
                 timeout_s: float = 3.0):
        self.inv = inv
        self.name = name
        self.log_dir = log_dir
        self.timeout_s = timeout_s
        self.lock = ResourceLock(f"dut-{inv.lab.prefix}{name}", label=f"DUT {name}")
        self.dut: Dut | None = None

    def __enter__(self) -> Dut:
        entry = self.inv.dut(self.name)
        try:
            self.lock.acquire()
        except Busy as exc:
            raise ConsoleBusy(self.name, str(exc)) from None
        try:
            log = self.log_dir / f"console-{self.name}.log" if self.log_dir else None
            self.dut = open_adapter(entry.adapter, self.name, console_url(self.inv, self.name),
                                    entry.console.baud, log, self.timeout_s)
        except BaseException:
            self.lock.release()
            raise
        return self.dut

    def __exit__(self, *exc: object) -> None:
        try:
            if self.dut is not None:
                self.dut.close()
        finally:
            self.lock.release()
