"""`hilbench compare`: the documented stock vs tuned lwIP differences, regressions with
both sides' evidence, DUT mapping, and the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.report.browser import broken_links
from bench.report.compare import Change, MappingError, compare_runs, parse_map
from bench.report.compare_render import markdown, write_comparison
from bench.report.schema import load_results
from tests.unit.report_runs import STOCK, TUNED, Variant, write_run


def comparison(root: Path, base: str, cand: str, mapping: list[str] | None = None):  # noqa: ANN201
    return compare_runs(load_results(root / base), load_results(root / cand), root / base,
                        root / cand, parse_map(mapping or []))


def changes(c, kind: Change) -> dict[str, str]:  # noqa: ANN001
    return {d.name: d.detail for d in c.figures if d.change is kind}


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    write_run(tmp_path, "stock", STOCK, started="2026-11-20T02:00:00+0000")
    write_run(tmp_path, "tuned", TUNED, started="2026-11-21T02:00:00+0000")
    return tmp_path


def test_stock_vs_tuned_lists_the_documented_lwipopts_differences(runs: Path) -> None:
    c = comparison(runs, "stock", "tuned", [f"{STOCK.dut}={TUNED.dut}"])
    documented = changes(c, Change.DOCUMENTED)
    # TCP_MSS 536 -> 1460
    assert documented["offered_mss_bytes"].startswith("536 -> 1460 bytes (+924")
    # LWIP_TCP_CALC_INITIAL_CWND(mss) = min(4*mss, max(2*mss, 4380)): 4 x 536 -> 3 x 1460
    assert documented["initial_window_segments"].startswith("4 -> 3 segments")
    # LWIP_WND_SCALE off -> on (TCP_RCV_SCALE 2), TCP_WND 4*MSS -> 48*MSS
    assert documented["window_scale"].startswith("false -> true")
    assert documented["window_scale_shift"].startswith("None -> 2 count")
    assert documented["syn_window_bytes"].startswith("2144 -> 65535 bytes")
    # LWIP_TCP_SACK_OUT off -> on
    assert documented["sack_permitted"].startswith("false -> true")
    assert documented["sack_out"].startswith("false -> true")
    assert set(documented) == {"offered_mss_bytes", "initial_window_segments", "window_scale",
                               "window_scale_shift", "syn_window_bytes", "sack_permitted",
                               "sack_out"}
    # timers are the same in both builds
    same = changes(c, Change.SAME)
    assert {"time_wait_s", "syn_retries", "syn_intervals_s", "syn_give_up_s"} <= set(same)
    # goodput moved, and no profile says it should: a reviewer must look
    assert set(changes(c, Change.UNDOCUMENTED)) == {"goodput_mbps"}
    assert c.exit_code() == 1 and c.exit_code("verdict") == 0


def test_markdown_shows_both_sides_evidence(runs: Path) -> None:
    c = comparison(runs, "stock", "tuned", [f"{STOCK.dut}={TUNED.dut}"])
    md = markdown(c)
    row = next(line for line in md.splitlines() if "`offered_mss_bytes`" in line)
    assert "| 536 bytes | 1460 bytes |" in row and "deviation -> pass" in row
    assert "stock/pcaps/lwip-m3-stock/Handshake/Offered-MSS/peer.pcapng frames 2" in row
    assert "tuned/pcaps/lwip-m3-tuned/Handshake/Offered-MSS/peer.pcapng frames 2" in row
    assert f"| {TUNED.dut} | {STOCK.dut} ({STOCK.build}) | {TUNED.dut} ({TUNED.build}) |" in md
    assert md.count("### ") == 2  # regressions (goodput) and documented differences
    html_path, md_path = write_comparison(c, runs / "out")
    assert md_path.read_text() == md
    assert broken_links(html_path.read_text(encoding="utf-8"), html_path) == []
    assert "peer.pcapng" in html_path.read_text()


def test_a_verdict_that_got_worse_is_a_regression(runs: Path) -> None:
    # the tuned build, rebuilt with the CI TCP_MSL by mistake: TIME_WAIT 120 s -> 2 s
    write_run(runs, "tuned-2", TUNED, started="2026-11-22T02:00:00+0000",
              override={"time_wait_s": 2.0, "syn_retries": 3})
    c = comparison(runs, "tuned", "tuned-2")
    regressions = changes(c, Change.REGRESSION)
    assert regressions["time_wait_s"].startswith("120.1 -> 2.0 s (-118.1, tolerance +-0.5)")
    assert regressions["syn_retries"].startswith("6 -> 3 count")
    failed_tests = [d.test for d in c.tests if d.change is Change.REGRESSION]
    assert sorted(failed_tests) == ["SYN Retries", "TIME WAIT"]
    assert c.exit_code() == 1 and c.exit_code("verdict") == 1 and c.exit_code("never") == 0
    md = markdown(c)
    assert "**4 regressions**" in md
    row = next(line for line in md.splitlines() if "`time_wait_s`" in line)
    assert "tuned/pcaps/" in row and "tuned-2/pcaps/" in row and "deviation -> fail" in row


def test_same_build_twice_is_no_regression(runs: Path) -> None:
    write_run(runs, "tuned-again", TUNED, started="2026-11-22T02:00:00+0000",
              override={"time_wait_s": 120.4, "goodput_mbps": [9.0, 2.5]})
    c = comparison(runs, "tuned", "tuned-again")
    assert {d.change for d in c.figures} == {Change.SAME}
    assert c.exit_code() == 0
    assert markdown(c).splitlines()[2] == "no regression, 19 unchanged"


def test_dut_mapping(runs: Path, tmp_path: Path) -> None:
    # one DUT each: paired without --map
    assert comparison(runs, "stock", "tuned").roles == {TUNED.dut: STOCK.dut}
    with pytest.raises(MappingError, match="BASE has no DUT 'nope'"):
        comparison(runs, "stock", "tuned", ["nope=lwip-m3-tuned"])
    with pytest.raises(MappingError, match="expected BASE_DUT=CAND_DUT"):
        parse_map(["lwip-m3-stock"])
    other = Variant(**{**STOCK.__dict__, "dut": "lwip-m3"})
    write_run(runs, "two", other)
    c = comparison(runs, "two", "stock")  # lwip-m3 vs lwip-m3-stock, one DUT each
    assert {d.change for d in c.figures} == {Change.SAME}


def test_cli_exit_codes(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = runs / "cmp"
    assert main(["compare", str(runs / "stock"), str(runs / "tuned"), "--out", str(out),
                 "--map", f"{STOCK.dut}={TUNED.dut}"]) == 1
    printed = capsys.readouterr().out
    assert "1 regression, 7 documented" in printed and "REGRESSION lwip-m3-tuned goodput_mbps" \
        in printed
    assert (out / "compare-stock.html").is_file() and (out / "compare-stock.md").is_file()
    assert main(["compare", "stock", "tuned", "--results", str(runs), "--fail-on",
                 "verdict", "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("## hilbench compare: stock -> tuned")
    assert (runs / "tuned" / "compare-stock.md").is_file()  # default: the CAND folder
    assert main(["compare", "stock", "missing", "--results", str(runs)]) == 2
    assert "no run 'missing'" in capsys.readouterr().err
