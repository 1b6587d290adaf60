"""TIME_WAIT duration (CL-04) found by FIN probes, against the lwIP board (ci-fast,
2*TCP_MSL = 2 s) and the Linux host DUT (60 s, so slow), judged against the profiles."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.lab.access import DutSession
from bench.measure.peer_session import dut_ip, open_peer
from bench.measure.time_wait import measure_time_wait_duration
from bench.profiles import load_profile
from bench.verdict import Outcome, judge
from tests.lab.labkit import running_lab

DUTS = ["linux-host", "lwip-m3"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix="hc-", duts=DUTS) as inv:
        yield inv


def run(lab: Inventory, name: str, out: Path, **options: object) -> None:
    with DutSession(lab, name, out) as dut, open_peer(lab, out) as peer:
        m = measure_time_wait_duration(dut, peer, dut_ip(lab, name), out, **options)
        entry = lab.dut(name)
        verdict = judge(m, load_profile(entry.profile), dut.consts(),
                        {"link_mtu": entry.link.mtu})
    print(m.model_dump_json(indent=1))
    print(verdict.message)
    done = subprocess.run(["tshark", "-r", str(out / "peer.pcapng"), "-q"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert verdict.outcome in (Outcome.PASS, Outcome.DEVIATION), verdict.message
    assert m.details["unanswered"] == 0
    return m  # type: ignore[return-value]


@pytest.mark.slow
def test_time_wait_lwip_ci_fast(lab: Inventory, tmp_path: Path) -> None:
    m = run(lab, "lwip-m3", tmp_path, bracket_s=(1.0, 4.0), per_round=4, rounds=3)
    assert m.value == pytest.approx(2.0, abs=0.5)  # type: ignore[attr-defined]
    assert m.tolerance.abs <= 0.5  # type: ignore[attr-defined]


@pytest.mark.slow
def test_time_wait_linux(lab: Inventory, tmp_path: Path) -> None:
    m = run(lab, "linux-host", tmp_path, bracket_s=(52.0, 72.0), per_round=9, rounds=1)
    assert m.value == pytest.approx(60.0, abs=5.0)  # type: ignore[attr-defined]
    assert m.tolerance.abs <= 1.5  # type: ignore[attr-defined]
