"""Names of everything the emulated lab builds, derived from the inventory alone.

One place decides names, so `up`, `down`, `status` and the measurements agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.inventory.models import Dut, DutKind, Inventory

INFRA_MTU = 9216  # bridge ports: only the hosts' own MTUs should limit a frame


@dataclass(frozen=True)
class Topology:
    prefix: str
    bench_ns: str
    lan_ns: str
    bench_bridge: str = "benchbr"
    lan_bridge: str = "lanbr"

    def dut_ns(self, dut: Dut) -> str:
        """Where the DUT's process runs: its own namespace (Linux) or the LAN (QEMU)."""
        if dut.kind is DutKind.SIM_LINUX:
            return f"{self.prefix}{dut.name}"
        return self.lan_ns

    def dut_port(self, inv: Inventory, dut: Dut) -> str:
        """The DUT's port on the LAN bridge: a veth end or a TAP."""
        index = [d.name for d in inv.duts].index(dut.name)
        return f"tap{index}" if dut.kind is DutKind.SIM_QEMU else f"dut{index}"


def for_inventory(inv: Inventory) -> Topology:
    p = inv.lab.prefix
    return Topology(prefix=p, bench_ns=f"{p}bench", lan_ns=f"{p}lan")


def simulated(inv: Inventory) -> list[Dut]:
    return [d for d in inv.duts if d.kind.simulated]
