"""The run report and the comparison open in a real browser: headless Chromium renders
them (the screenshot is not blank) and no local link in the rendered page is broken.

Needs no lab and no root: the pages are built from fixture run folders (a real run's
report is loaded the same way by tests/lab/test_robot_run.py). Skips without Chromium,
except under CI=true, where it fails (scripts/install-deps.sh installs `chromium`).
"""

from __future__ import annotations

from pathlib import Path

from bench.report.browser import check_page
from bench.report.compare import compare_runs
from bench.report.compare_render import write_comparison
from bench.report.html import write_report
from bench.report.schema import load_results
from tests.unit.report_runs import STOCK, TUNED, write_run


def test_fixture_report_and_comparison_render(chromium: str, tmp_path: Path) -> None:
    stock = write_run(tmp_path, "stock", STOCK, started="2026-11-20T02:00:00+0000")
    tuned = write_run(tmp_path, "tuned", TUNED, started="2026-11-21T02:00:00+0000")
    report = write_report(stock)
    write_report(tuned)
    comparison = compare_runs(load_results(stock), load_results(tuned), stock, tuned)
    html_page, _ = write_comparison(comparison, tuned)
    for page, text in ((report, "Behaviours by DUT"), (html_page, "offered_mss_bytes")):
        dom, problems = check_page(chromium, page, tmp_path)
        assert text in dom
        assert problems == []
