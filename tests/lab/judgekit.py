"""What a measurement lab test needs besides the lab: the DUT and the peer of one test
(`Bench`), and a judge that uses the constants in force and each figure's own context
(`details["context"]`: link MTU, peer MSS, ... as the experiment set them)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.inventory import Inventory
from bench.lab.access import DutSession
from bench.measure.peer_session import dut_ip, open_peer
from bench.measure.result import Measurement
from bench.model import Peer
from bench.profiles import load_profile
from bench.verdict import Outcome, judge
from firmware_adapters.dut import Dut


@dataclass
class Bench:
    inv: Inventory
    name: str
    dut: Dut
    peer: Peer
    ip: str
    out: Path

    @property
    def linux(self) -> bool:
        return self.name == "linux-host"

    def judge(self, m: Measurement) -> Outcome:
        entry = self.inv.dut(self.name)
        in_force = {**self.dut.consts(), **m.details.get("settings", {})}
        context = {"link_mtu": entry.link.mtu, **m.details.get("context", {})}
        verdict = judge(m, load_profile(entry.profile), in_force, context)
        print(verdict.message)
        return verdict.outcome

    def judged_ok(self, m: Measurement) -> None:
        """Every figure passes or is a documented deviation."""
        for one in m.figures():
            outcome = self.judge(one)
            assert outcome in (Outcome.PASS, Outcome.DEVIATION), one.describe()


@contextmanager
def bench_for(inv: Inventory, name: str, out: Path) -> Iterator[Bench]:
    """The DUT `name` and a peer hearing only it; the pcap must open in tshark after."""
    with DutSession(inv, name, out) as dut, open_peer(inv, out, dut=name) as peer:
        yield Bench(inv, name, dut, peer, dut_ip(inv, name), out)
    done = subprocess.run(["tshark", "-r", str(out / "peer.pcapng"), "-q"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
