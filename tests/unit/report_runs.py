"""Realistic run folders for the report tests, built from real Measurement objects judged
by the real profiles (bench.verdict.judge), recorded the way the Robot library records
them (one results.json row per judged figure, evidence paths relative to the run).

The stock and tuned lwIP firmware differ as their lwipopts.h say
(sim/mps2_lwip/variants/*/lwipopts.h, bench/profiles/lwip-2.1.3-*.yaml): TCP_MSS 536 vs
1460 (offered MSS, initial window in segments), LWIP_WND_SCALE off vs on (wscale, shift
2, SYN window), LWIP_TCP_SACK_OUT off vs on (SACK-permitted, SACK blocks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.measure.result import Evidence, Measurement, Tolerance  # noqa: E402
from bench.profiles import load_profile  # noqa: E402
from bench.report.schema import SCHEMA  # noqa: E402
from bench.verdict import judge  # noqa: E402

CAPTURE = Tolerance(abs=0.001, why="kernel capture timestamps (+-1 ms)")
CONTEXT = {"link_mtu": 1500, "peer_mss": 1460}


@dataclass
class Variant:
    """What one firmware build measures."""

    dut: str
    profile: str
    build: str
    mss: int
    wscale: bool
    shift: int | None
    sack: bool
    syn_window: int
    iw: int
    time_wait_s: float
    goodput_mbps: list[float]
    syn_intervals_s: list[float] = field(default_factory=lambda: [2.7, 3.0, 3.0, 3.0, 3.0,
                                                                  3.0])


STOCK = Variant("lwip-m3-stock", "lwip-2.1.3-stock", "59646f1-stock-64f1b486", 536, False,
                None, False, 2144, 4, 120.1, [3.9, 1.4])  # IW: LWIP_TCP_CALC_INITIAL_CWND
TUNED = Variant("lwip-m3-tuned", "lwip-2.1.3-tuned", "59646f1-tuned-0c1d2e3f", 1460, True,
                2, True, 65535, 3, 120.1, [9.2, 2.6])


def _evidence(run_dir: Path, dut: str, test: str, frames: list[int],
              files: list[str] | None = None) -> Evidence:
    """A capture file per test, as the library lays them out (pcaps/<DUT>/<suite>/<test>)."""
    folder = run_dir / "pcaps" / dut / "Handshake" / test
    folder.mkdir(parents=True, exist_ok=True)
    pcap = folder / "peer.pcapng"
    if not pcap.exists():
        pcap.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 60)  # a pcapng section header block
    return Evidence(pcap=str(pcap.relative_to(run_dir)), frames=frames,
                    console_log=f"consoles/console-{dut}.log", files=files or [])


def _plot(run_dir: Path, dut: str, goodput: list[float]) -> list[str]:
    folder = run_dir / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], goodput, marker="o", label=dut)
    ax.set_xlabel("loss %")
    ax.set_ylabel("goodput Mbit/s")
    ax.legend()
    names = []
    for ext in ("png", "svg"):
        path = folder / f"goodput-{dut}.{ext}"
        fig.savefig(path, dpi=60)
        names.append(str(path.relative_to(run_dir)))
    plt.close(fig)
    return names


def measurements(v: Variant, run_dir: Path) -> list[tuple[str, Measurement, dict[str, Any]]]:
    """(test name, measurement with related figures, extra context) of one run."""
    mss = Measurement(name="offered_mss_bytes", dut=v.dut, value=v.mss, unit="bytes",
                      behaviours=["HS-04", "MS-01"],
                      evidence=_evidence(run_dir, v.dut, "Offered-MSS", [2]),
                      details={"context": {"link_mtu": 1500}})
    mss.related = [mss.part("window_scale", v.wscale, "bool"),
                   mss.part("window_scale_shift", v.shift, "count"),
                   mss.part("sack_permitted", v.sack, "bool"),
                   mss.part("syn_window_bytes", v.syn_window, "bytes")]
    syn = Measurement(name="syn_retries", dut=v.dut, value=len(v.syn_intervals_s),
                      unit="count", behaviours=["HS-08"],
                      evidence=_evidence(run_dir, v.dut, "SYN-Retries", list(range(1, 8))))
    syn.related = [syn.part("syn_intervals_s", v.syn_intervals_s, "s", CAPTURE),
                   syn.part("syn_backoff_factor", 1.0, "ratio", Tolerance(abs=0.05)),
                   syn.part("syn_give_up_s", round(sum(v.syn_intervals_s) + 0.8, 3), "s",
                            Tolerance(abs=0.05, why="console read time"))]
    tw = Measurement(name="time_wait_s", dut=v.dut, value=v.time_wait_s, unit="s",
                     behaviours=["CL-04"], tolerance=Tolerance(abs=0.25, why="probe gap"),
                     evidence=_evidence(run_dir, v.dut, "TIME-WAIT", [12, 57]))
    sack = Measurement(name="sack_out", dut=v.dut, value=v.sack, unit="bool",
                       behaviours=["DT-06"],
                       evidence=_evidence(run_dir, v.dut, "SACK-Out", [30, 31]))
    iw = Measurement(name="initial_window_segments", dut=v.dut, value=v.iw, unit="segments",
                     behaviours=["CC-01"],
                     evidence=_evidence(run_dir, v.dut, "Initial-Window", [5, 6, 7, 8]))
    goodput = Measurement(name="goodput_mbps", dut=v.dut, value=v.goodput_mbps, unit="Mbit/s",
                          behaviours=["CC-06"], tolerance=Tolerance(pct=10, why="spread"),
                          details={"points": [{"loss": 0.0, "median_mbps": v.goodput_mbps[0]},
                                              {"loss": 0.01, "median_mbps": v.goodput_mbps[1]}]},
                          evidence=_evidence(run_dir, v.dut, "Loss-Sweep", [],
                                             _plot(run_dir, v.dut, v.goodput_mbps)))
    return [("Offered MSS", mss, {}), ("SYN Retries", syn, {}), ("TIME WAIT", tw, {}),
            ("SACK Out", sack, {}), ("Initial Window", iw, {}), ("Loss Sweep", goodput, {})]


def write_run(root: Path, run_id: str, v: Variant, started: str = "2026-11-21T17:00:00+0000",
              override: dict[str, Any] | None = None, failed_test: str | None = None,
              power: bool = True) -> Path:
    """A complete run folder: results.json, Robot's files, pcaps, consoles, plots.

    `override` replaces measured values by figure name (to make a regression)."""
    run_dir = root / run_id
    (run_dir / "consoles").mkdir(parents=True, exist_ok=True)
    (run_dir / "consoles" / f"console-{v.dut}.log").write_text(
        f"2026-11-21T17:00:01.000 < hello\n2026-11-21T17:00:01.010 > OK name={v.dut} "
        f"stack=lwip build={v.build} proto=1\n")
    for name, text in [("log.html", "<html><body>Robot log</body></html>"),
                       ("report.html", "<html><body>Robot report</body></html>"),
                       ("output.xml", "<robot/>"), ("xunit.xml", "<testsuite/>")]:
        (run_dir / name).write_text(text)
    profile = load_profile(v.profile)
    override = override or {}
    records, tests = [], []
    for test, m, extra in measurements(v, run_dir):
        failed = False
        for one in m.figures():
            if one.name in override:
                one = one.model_copy(update={"value": override[one.name]})
            context = {**CONTEXT, **one.details.get("context", {}), **extra}
            verdict = judge(one, profile, {}, context)
            failed |= verdict.outcome.value == "fail"
            records.append({"test": test, "dut": v.dut, "build": v.build,
                            "profile": v.profile, "measurement": one.model_dump(mode="json"),
                            "verdict": verdict.model_dump(mode="json")})
        status = "FAIL" if failed or test == failed_test else "PASS"
        tests.append({"suite": "Robot Suites.Handshake", "test": test, "dut": v.dut,
                      "build": v.build, "profile": v.profile,
                      "tags": [*m.behaviours, f"dut:{v.dut}"], "status": status,
                      "message": "figure failed its profile" if status == "FAIL" else "",
                      "elapsed_s": 1.5})
    doc = {"schema": SCHEMA, "run_id": run_id, "started": started,
           "finished": started.replace(":00+", ":30+"), "bench_version": "0.1.0",
           "robot_rc": sum(t["status"] == "FAIL" for t in tests), "include": [],
           "exclude": [],
           "duts": [{"name": v.dut, "kind": "sim-qemu", "profile": v.profile,
                     "builds": [v.build]}],
           "tests": tests, "measurements": records,
           "power": [{"dut": v.dut, "samples": [[100.0 + i * 0.1, 0.080 + 0.01 * (i % 7)]
                                                for i in range(50)]}] if power else []}
    (run_dir / "results.json").write_text(json.dumps(doc, indent=2))
    return run_dir
