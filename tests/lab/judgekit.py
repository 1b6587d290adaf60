"""What a measurement lab test needs besides the lab: the DUT and the peer of one test
(`Bench`, opened by `bench_for`), and judging every figure as its experiment left things
(`bench.verdict.judge_as_measured`: the settings it applied, the context it set up)."""

from __future__ import annotations

import subprocess
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.inventory import Inventory
from bench.lab.access import DutSession
from bench.measure.peer_session import dut_ip, open_peer
from bench.measure.result import Measurement
from bench.model import Peer
from bench.profiles import load_profile
from bench.verdict import Outcome, Verdict, judge_as_measured
from firmware_adapters.dut import Dut

OK = (Outcome.PASS, Outcome.DEVIATION)


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

    def judged(self, m: Measurement) -> list[tuple[Measurement, Verdict]]:
        """Every figure of `m` with its verdict against the DUT's profile (printed)."""
        entry = self.inv.dut(self.name)
        profile = load_profile(entry.profile)
        consts = self.dut.consts()
        out = []
        for one in m.figures():
            verdict = judge_as_measured(one, profile, consts, {"link_mtu": entry.link.mtu})
            print(verdict.message)
            out.append((one, verdict))
        return out

    def verdicts(self, m: Measurement) -> dict[str, Outcome]:
        """Figure name -> outcome (the last one, where a name repeats)."""
        return {one.name: verdict.outcome for one, verdict in self.judged(m)}

    def judge(self, m: Measurement) -> Outcome:
        """The outcome of `m` itself (not of its related figures)."""
        entry = self.inv.dut(self.name)
        verdict = judge_as_measured(m.model_copy(update={"related": []}),
                                    load_profile(entry.profile), self.dut.consts(),
                                    {"link_mtu": entry.link.mtu})
        print(verdict.message)
        return verdict.outcome

    def judged_ok(self, m: Measurement,
                  unjudged: Collection[tuple[str, str]] = ()) -> dict[str, Measurement]:
        """Every figure passes or is a documented deviation, except those (DUT, figure)
        pairs in `unjudged`, whose profile documents no value: they must be not judged."""
        for one, verdict in self.judged(m):
            if (self.name, one.name) in unjudged:
                assert verdict.outcome is Outcome.NOT_JUDGED, verdict.message
            else:
                assert verdict.outcome in OK, verdict.message
        return {f.name: f for f in m.figures()}

    def none_fail(self, m: Measurement, *judged: str) -> dict[str, Measurement]:
        """No figure fails; the ones named in `judged` must be judged (pass or deviation)."""
        outcomes = {}
        for one, verdict in self.judged(m):
            assert verdict.outcome is not Outcome.FAIL, verdict.message
            outcomes[one.name] = verdict.outcome
        for name in judged:
            assert outcomes[name] in OK, name
        return {f.name: f for f in m.figures()}


@contextmanager
def bench_for(inv: Inventory, name: str, out: Path) -> Iterator[Bench]:
    """The DUT `name` and a peer hearing only it; the pcap must open in tshark after."""
    with DutSession(inv, name, out) as dut, open_peer(inv, out, dut=name) as peer:
        yield Bench(inv, name, dut, peer, dut_ip(inv, name), out)
    done = subprocess.run(["tshark", "-r", str(out / "peer.pcapng"), "-q"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
