"""results.json schema, the results store, the HTML run report and history, on run
folders built from real Measurement/Verdict objects (tests/unit/report_runs.py)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bench.report.browser import broken_links
from bench.report.history import Spec, history, pick
from bench.report.html import REPORT_FILE, write_report
from bench.report.schema import ResultsError, load_results
from bench.report.store import RunStore
from tests.unit.report_runs import STOCK, TUNED, write_run


@pytest.fixture
def store(tmp_path: Path) -> Path:
    write_run(tmp_path, "r1-stock", STOCK, started="2026-11-20T02:00:00+0000")
    write_run(tmp_path, "r2-tuned", TUNED, started="2026-11-21T02:00:00+0000")
    return tmp_path


# ----------------------------------------------------------------------- schema
def test_results_load_with_every_figure_and_its_verdict(store: Path) -> None:
    results = load_results(store / "r1-stock")
    assert results.run_id == "r1-stock" and results.duts[0].builds == [STOCK.build]
    figures = {f.name: f for f in results.figures()}
    assert figures["offered_mss_bytes"].measurement.value == 536
    assert figures["offered_mss_bytes"].outcome.value == "deviation"  # 536, not MTU - 40
    assert figures["sack_out"].verdict.expected is False
    assert figures["time_wait_s"].measurement.tolerance.abs == 0.25
    assert results.power[0].samples[0] == (100.0, 0.08)


def test_related_figures_in_one_record_get_their_verdicts_by_name(tmp_path: Path) -> None:
    run = write_run(tmp_path, "r", STOCK)
    doc = json.loads((run / "results.json").read_text())
    rows = [r for r in doc["measurements"] if r["test"] == "SYN Retries"]
    main = rows[0]
    main["measurement"]["related"] = [r["measurement"] for r in rows[1:]]
    main["related_verdicts"] = [r["verdict"] for r in rows[1:]]
    doc["measurements"] = [main]
    (run / "results.json").write_text(json.dumps(doc))
    figures = list(load_results(run).figures())
    assert [f.name for f in figures] == ["syn_retries", "syn_intervals_s",
                                         "syn_backoff_factor", "syn_give_up_s"]
    assert all(f.verdict is not None and f.verdict.name == f.name for f in figures)


@pytest.mark.parametrize("text, expected", [
    ("{", r"results\.json: not JSON"),
    ('{"run_id": "x"}', r"schema: expected 'hilbench-results/1', found None"),
    ('{"schema": "hilbench-results/2", "run_id": "x"}', r"version '2' is not supported"),
    ('{"schema": "hilbench-results/1", "run_id": "x", "tests": [{"test": "t"}]}',
     r"results\.json: tests\[0\]\.status: Field required"),
    ('{"schema": "hilbench-results/1.3", "run_id": "x", "new_field": 1}', None),
])
def test_a_bad_results_file_fails_in_one_line(tmp_path: Path, text: str,
                                              expected: str | None) -> None:
    (tmp_path / "results.json").write_text(text)
    if expected is None:
        assert load_results(tmp_path).run_id == "x"  # a newer 1.x file still loads
        return
    with pytest.raises(ResultsError) as info:
        load_results(tmp_path)
    assert "\n" not in str(info.value)
    assert re.search(expected, str(info.value)), str(info.value)


def test_measure_cli_output_loads_as_a_run(tmp_path: Path, store: Path) -> None:
    doc = json.loads((store / "r2-tuned" / "results.json").read_text())
    out = tmp_path / "measure-out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(
        [{"measurement": r["measurement"], "verdict": r["verdict"]}
         for r in doc["measurements"]]))
    results = load_results(out)
    assert results.dut_names() == [TUNED.dut] and len(list(results.figures())) == 13


# ----------------------------------------------------------------------- store
def test_store_indexes_runs_and_finds_the_last_good_one(store: Path) -> None:
    write_run(store, "r3-broken", TUNED, started="2026-11-22T02:00:00+0000",
              override={"time_wait_s": 2.0})
    runs = RunStore(store).entries()
    assert [r.run_id for r in runs] == ["r1-stock", "r2-tuned", "r3-broken"]
    assert [r.verdict for r in runs] == ["pass", "pass", "fail"]
    assert "1 figure(s) failed" in runs[2].why and runs[2].duts[0].builds == [TUNED.build]
    index = json.loads((store / "index.json").read_text())
    assert index["schema"] == "hilbench-index/1" and len(index["runs"]) == 3
    store_ = RunStore(store)
    assert store_.last_good([TUNED.dut]).run_id == "r2-tuned"
    assert store_.last_good([TUNED.dut], exclude="r2-tuned") is None
    assert store_.resolve("latest").name == "r3-broken"
    assert store_.resolve("r1-stock") == store / "r1-stock"
    with pytest.raises(ResultsError, match="no run 'nope'"):
        store_.resolve("nope")


def test_store_index_follows_a_changed_or_broken_run(store: Path) -> None:
    RunStore(store).entries()
    (store / "r2-tuned" / "results.json").write_text("{broken")
    entries = {e.run_id: e for e in RunStore(store).entries()}
    assert entries["r2-tuned"].verdict == "error" and "not JSON" in entries["r2-tuned"].why


# ----------------------------------------------------------------------- report
def test_report_has_every_section_and_no_broken_link(store: Path) -> None:
    page = write_report(store / "r1-stock")
    assert page == store / "r1-stock" / REPORT_FILE
    assert (store / "r1-stock" / "report.html").read_text().startswith("<html><body>Robot")
    html = page.read_text()
    for section in ("matrix", "duts", "figures", "plots", "power", "tests", "files"):
        assert f'id="{section}"' in html
    # the matrix: behaviour IDs as rows, the DUT as the column, a verdict per cell
    assert re.search(r'<td id="id-MS-01"><b>MS-01</b></td><td class="deviation">', html)
    assert re.search(r'<td id="id-DT-06"><b>DT-06</b></td><td class="pass">', html)
    # each measurement with value, unit, expectation, tolerance, verdict and message
    assert "120.1 s +-0.25" in html and "+-0.5 s" in html
    assert "lwIP offers min(TCP_MSS, MTU - 40)" in html
    # plots inline, evidence linked relatively, Robot's files linked
    assert 'src="data:image/png;base64,' in html
    assert 'href="pcaps/lwip-m3-stock/Handshake/TIME-WAIT/peer.pcapng"' in html
    assert 'href="consoles/console-lwip-m3-stock.log"' in html
    assert 'href="log.html"' in html and 'href="xunit.xml"' in html
    assert "<polyline" in html and "mean 109.4 mA" in html
    assert broken_links(page.read_text(encoding="utf-8"), page) == []


def test_report_never_links_a_missing_file(store: Path, tmp_path: Path) -> None:
    run = store / "r2-tuned"
    (run / "log.html").unlink()
    for pcap in (run / "pcaps").rglob("*.pcapng"):
        pcap.unlink()
    page = write_report(run, tmp_path / "elsewhere" / "page.html")
    html = page.read_text()
    assert "log.html" not in html
    assert 'title="not in the run folder">pcaps/lwip-m3-tuned/Handshake/TIME-WAIT/peer.pcapng' \
        in html
    # links from another folder still resolve
    assert broken_links(page.read_text(encoding="utf-8"), page) == []


def test_report_of_a_run_without_measurements(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(
        {"schema": "hilbench-results/1", "run_id": "empty", "robot_rc": 252}))
    html = write_report(tmp_path).read_text()
    assert "No measurement was recorded" in html and "error" in html


# ----------------------------------------------------------------------- history
def test_history_follows_figures_by_build(store: Path, tmp_path: Path) -> None:
    write_run(store, "r3-tuned", TUNED, started="2026-11-22T02:00:00+0000",
              override={"goodput_mbps": [9.0, 2.2]})
    specs = [Spec.parse(s) for s in ("initial_window_segments", "time_wait_s",
                                     "goodput_mbps@loss=0.01")]
    series, paths = history(RunStore(store), specs, tmp_path / "h")
    iw = series["initial_window_segments"]
    assert [(p.run_id, p.build, p.value) for p in iw] == [
        ("r1-stock", STOCK.build, 4), ("r2-tuned", TUNED.build, 3),
        ("r3-tuned", TUNED.build, 3)]
    assert [p.value for p in series["goodput_mbps@loss=0.01"]] == [1.4, 2.6, 2.2]
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)
    assert {p.suffix for p in paths} == {".png", ".svg"}


def test_figure_spec_selects_by_detail(store: Path) -> None:
    assert Spec.parse("goodput_mbps@loss=0.01") == Spec("goodput_mbps", "loss", 0.01)
    assert str(Spec.parse("goodput_mbps@loss=0.01")) == "goodput_mbps@loss=0.01"
    fig = next(f for f in load_results(store / "r1-stock").figures() if f.name == "goodput_mbps")
    flat = fig.measurement.model_copy(update={"details": {"loss_pct": [0, 1]}})
    assert pick(Spec.parse("goodput_mbps@loss_pct=1"), replace(fig, measurement=flat)) == 1.4
    assert pick(Spec.parse("goodput_mbps@loss=0.05"), fig) is None
    with pytest.raises(ValueError, match="NAME@DETAIL=VALUE"):
        Spec.parse("x@y")


def test_pick_ignores_other_figures(store: Path) -> None:
    figs = list(load_results(store / "r1-stock").figures())
    assert [pick(Spec("time_wait_s"), f) for f in figs if f.name == "time_wait_s"] == [120.1]
    assert all(pick(Spec("time_wait_s"), f) is None for f in figs if f.name != "time_wait_s")
