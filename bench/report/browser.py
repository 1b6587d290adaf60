"""Does a report page work for its reader? Its local links resolve, and headless
Chromium renders it to something that is not blank.

One check for the tests and for `make demo`, which ends by opening its own reports.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class Links(HTMLParser):
    """Every href/src and id of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.urls.append(value)
            if key == "id" and value:
                self.ids.add(value)


def broken_links(html: str, page: Path) -> list[str]:
    """Local links of the page's HTML (as written, or as the browser rendered it) that
    lead nowhere: files that do not exist, anchors the page does not have."""
    parser = Links()
    parser.feed(html)
    broken = []
    for url in parser.urls:
        if url.startswith(("data:", "http://", "https://", "mailto:")):
            continue
        if url.startswith("#"):
            if url[1:] not in parser.ids:
                broken.append(url)
        elif url.startswith("file://"):
            if not Path(unquote(url.removeprefix("file://")).split("#")[0]).is_file():
                broken.append(url)
        elif not (page.parent / unquote(url.split("#")[0])).resolve().is_file():
            broken.append(url)
    return broken


def find_browser() -> str | None:
    """The headless browser the checks use (scripts/install-deps.sh installs chromium)."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def render(browser: str, page: Path, out: Path) -> tuple[str, Path]:
    """(the DOM after rendering, a screenshot) of a local page."""
    out.mkdir(parents=True, exist_ok=True)
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", f"--user-data-dir={out / 'profile'}", "--window-size=1280,1600"]
    url = page.resolve().as_uri()
    shot = out / f"{page.stem}.png"
    subprocess.run([*common, f"--screenshot={shot}", url], check=True, capture_output=True,
                   timeout=90)
    dom = subprocess.run([*common, "--dump-dom", url], check=True, capture_output=True,
                         text=True, timeout=90).stdout
    return dom, shot


def blank_problems(shot: Path) -> list[str]:
    """Why a screenshot looks blank (too small, nearly all white, one flat colour)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[..., :3]
    if pixels.shape[0] <= 500 or pixels.shape[1] <= 500:
        return [f"{shot}: only {pixels.shape[1]}x{pixels.shape[0]} pixels"]
    problems = []
    not_white = (pixels.min(axis=2) < 0.9).mean()
    if not_white <= 0.02:
        problems.append(f"{shot}: {not_white:.1%} of the screenshot is not white")
    if pixels.std() <= 0.05:
        problems.append(f"{shot}: the screenshot is one flat colour")
    return problems


def check_page(browser: str, page: Path, out: Path) -> tuple[str, list[str]]:
    """Render the page; (its DOM, what is wrong: blank screenshot, broken local links)."""
    dom, shot = render(browser, page, out)
    broken = broken_links(dom, page)
    return dom, blank_problems(shot) + ([f"{page}: broken local links {broken}"]
                                        if broken else [])
