"""The run report and the comparison open in a real browser: headless Chromium renders
them (the screenshot is not blank) and no local link in the rendered page is broken.

Needs no lab and no root: the pages are built from fixture run folders (a real run's
report is loaded the same way by tests/lab/test_robot_run.py). Skips without Chromium,
except under CI=true, where it fails (scripts/install-deps.sh installs `chromium`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import unquote

import matplotlib.image

from bench.report.compare import compare_runs
from bench.report.compare_render import write_comparison
from bench.report.html import write_report
from bench.report.schema import load_results
from tests.unit.report_runs import STOCK, TUNED, write_run
from tests.unit.test_report import Links


def browse(browser: str, page: Path, out: Path) -> tuple[str, Path]:
    """(the DOM after rendering, a screenshot) of a local page."""
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", f"--user-data-dir={out / 'profile'}", "--window-size=1280,1600"]
    url = page.resolve().as_uri()
    shot = out / f"{page.stem}.png"
    subprocess.run([*common, f"--screenshot={shot}", url], check=True, capture_output=True,
                   timeout=90)
    dom = subprocess.run([*common, "--dump-dom", url], check=True, capture_output=True,
                         text=True, timeout=90).stdout
    return dom, shot


def assert_not_blank(shot: Path) -> None:
    pixels = matplotlib.image.imread(str(shot))[..., :3]
    assert pixels.shape[0] > 500 and pixels.shape[1] > 500
    not_white = (pixels.min(axis=2) < 0.9).mean()
    assert not_white > 0.02, f"{shot}: {not_white:.1%} of the screenshot is not white"
    assert pixels.std() > 0.05, f"{shot}: the screenshot is one flat colour"


def assert_links_resolve(dom: str, page: Path) -> None:
    parser = Links()
    parser.feed(dom)
    assert parser.urls, "the rendered page has no links at all"
    broken = []
    for url in parser.urls:
        if url.startswith(("data:", "http://", "https://", "mailto:")):
            continue
        if url.startswith("#"):
            if url[1:] not in parser.ids:
                broken.append(url)
        elif url.startswith("file://"):
            if not Path(url.removeprefix("file://").split("#")[0]).is_file():
                broken.append(url)
        elif not (page.parent / unquote(url.split("#")[0])).resolve().is_file():
            broken.append(url)
    assert broken == [], f"{page}: broken local links {broken}"


def test_fixture_report_and_comparison_render(chromium: str, tmp_path: Path) -> None:
    stock = write_run(tmp_path, "stock", STOCK, started="2026-11-20T02:00:00+0000")
    tuned = write_run(tmp_path, "tuned", TUNED, started="2026-11-21T02:00:00+0000")
    report = write_report(stock)
    write_report(tuned)
    comparison = compare_runs(load_results(stock), load_results(tuned), stock, tuned)
    html_page, _ = write_comparison(comparison, tuned)
    for page, text in ((report, "Behaviours by DUT"), (html_page, "offered_mss_bytes")):
        dom, shot = browse(chromium, page, tmp_path)
        assert text in dom
        assert_not_blank(shot)
        assert_links_resolve(dom, page)
