"""A short real `hilbench run` in CI: a tag subset of the suites on both simulated DUTs at
once, through pabot, with everything a run folder promises (results.json, xunit with the
DUT and build, per-DUT tag statistics, the evidence the report links), and its report
rendered by headless Chromium."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bench.inventory import Inventory
from bench.report.browser import check_page
from bench.report.html import write_report
from bench.robot.runner import RunRequest, run
from tests.lab.labkit import running_lab

PREFIX = "hq-"
# The Linux host "drawn" from a pyvisa-sim supply: the lab has no real one, and the
# simulated supply (a real pyvisa-sim instrument, fixed 0.118 A reading) shows that a
# run samples every supply that measures current and that the report plots it.
SIM_YAML = Path(__file__).resolve().parents[1] / "data" / "psu-sim.yaml"
SIM_SUPPLY = {"resource": "TCPIP::192.0.2.50::INSTR", "visa_library": f"{SIM_YAML}@sim"}
DUTS = ["linux-host", "lwip-m3"]
TAGS = ["HS-11", "MS-01", "RS-02", "UD-01", "CL-01"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inventory, Path]]:
    state = tmp_path_factory.mktemp("lab")
    with running_lab(state, prefix=PREFIX, duts=DUTS) as lab_inv:
        doc = lab_inv.model_dump(mode="json", exclude_none=True)
        for dut in doc["duts"]:
            if dut["name"] == "linux-host":
                dut["power"] = SIM_SUPPLY
        path = state / "inventory.yaml"
        path.write_text(yaml.safe_dump(doc))
        yield Inventory.model_validate(doc), path


def test_a_tag_subset_runs_on_both_duts_in_parallel(lab: tuple[Inventory, Path],
                                                    tmp_path: Path, chromium: str) -> None:
    inv, inv_path = lab
    rc, folder = run(inv, inv_path, RunRequest(duts=DUTS, include=TAGS, processes=2,
                                               results_root=tmp_path))
    doc = json.loads((folder / "results.json").read_text())
    failed = [(t["dut"], t["test"], t["message"]) for t in doc["tests"] if t["status"] != "PASS"]
    assert rc == 0 and not failed, failed
    ran = {(t["dut"], tag) for t in doc["tests"] for tag in t["tags"] if tag in TAGS}
    assert ran == {(d, tag) for d in DUTS for tag in TAGS}
    # every judged figure is recorded with its verdict and an evidence capture in the run
    assert doc["measurements"]
    for row in doc["measurements"]:
        assert row["verdict"]["outcome"] in ("pass", "deviation", "not_judged"), row
        assert (folder / row["measurement"]["evidence"]["pcap"]).is_file()
    # xunit: the DUT and its firmware build as properties of each suite
    props = {(p.get("name"), p.get("value"))
             for p in ET.parse(folder / "xunit.xml").iter("property")}
    builds = {d["name"]: d["builds"] for d in doc["duts"]}
    for dut in DUTS:
        assert ("DUT", dut) in props
        assert builds[dut] and ("Firmware build", builds[dut][0]) in props
    # report.html's tag statistics: each behaviour ID on each DUT
    report = (folder / "report.html").read_text()
    for tag in TAGS:
        for dut in DUTS:
            assert f"{tag} on {dut}" in report
    # the current each powered DUT drew during the run (only linux-host has a supply)
    assert [p["dut"] for p in doc["power"]] == ["linux-host"]
    amps = {a for _, a in doc["power"][0]["samples"]}
    assert len(doc["power"][0]["samples"]) >= 10 and amps == {0.118}
    page = write_report(folder)
    assert page.is_file() and "HS-11" in page.read_text()
    assert 'id="power"' in page.read_text() and "118.0 mA" in page.read_text()
    # the real run's report opens in a browser: not blank, no broken local link
    _, problems = check_page(chromium, page, tmp_path)
    assert problems == []
