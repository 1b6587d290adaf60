"""The bits every HTML page of the bench shares: escaping, one stylesheet, verdict
badges, tables. Pages are plain HTML with inline CSS: no scripts, no external assets,
so they open from a CI artifact, a mail attachment or a file:// URL alike."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from bench.verdict.compare import show

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#1d1d1f;
background:#fff;line-height:1.35}
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:2px solid #ddd;
padding-bottom:.2em}h3{margin-top:1.2em}
table{border-collapse:collapse;margin:.5em 0 1em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#d9f2d9}.fail{background:#f8d0d0}.deviation{background:#fdf0c4}
.not_judged,.none{background:#ececec}.skip{background:#e4ecf7}.error{background:#f3c4f3}
.badge{display:inline-block;padding:.1em .5em;border-radius:.6em;font-weight:600;
font-size:.9em}
.meta td:first-child{font-weight:600}
.msg{font-family:ui-monospace,monospace;font-size:.85em;white-space:pre-wrap;max-width:60em}
.plots figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
.plots img{max-width:640px;border:1px solid #ccc}
figcaption{font-size:.85em}
.small{font-size:.85em;color:#555}
nav a{margin-right:1em}
"""

OUTCOME_ORDER = {"fail": 4, "error": 4, "deviation": 2, "pass": 1, "not_judged": 0, "none": 0}


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def badge(outcome: str | None, text: str | None = None) -> str:
    key = outcome or "none"
    return f'<span class="badge {esc(key)}">{esc(text or key.replace("_", " "))}</span>'


def link(url: str, text: str) -> str:
    return f'<a href="{esc(url)}">{esc(text)}</a>'


def table(head: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """Cells are HTML already (escape text with `esc` before)."""
    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}><thead><tr>"]
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(
            c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def value_text(value: object, unit: str) -> str:
    """'2.04 s', '6 count', 'true'."""
    if value is None:
        return "-"
    text = show(value)
    return text if unit in ("", "bool") else f"{text} {unit}"


def worst(outcomes: Iterable[str]) -> str:
    """The outcome a summary cell shows: fail beats deviation beats pass."""
    return max(outcomes, key=lambda o: OUTCOME_ORDER.get(o, 0), default="none")
