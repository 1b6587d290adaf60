"""A Comparison as Markdown (a CI comment or job summary) and as an HTML page (artifact),
each change with both sides' evidence."""

from __future__ import annotations

import os
from pathlib import Path

from bench.report.compare import (
    ORDER,
    REGRESSIONS,
    TITLES,
    Change,
    Comparison,
    FigureDiff,
    TestDiff,
)
from bench.report.links import href, locate
from bench.report.page import badge, esc, link, page, table, value_text
from bench.report.schema import Figure, Results

SHOWN_SAME_LIMIT = 200  # the HTML lists unchanged figures too, up to this many


def _builds(results: Results, dut: str) -> str:
    return ", ".join(results.dut(dut).builds) or "?"


def _shown_path(path: Path, run_dir: Path) -> str:
    """<run id>/pcaps/...: the path inside the store (the CI artifact's layout)."""
    try:
        return f"{run_dir.name}/{path.resolve().relative_to(run_dir.resolve()).as_posix()}"
    except ValueError:
        return os.path.relpath(path)


def evidence_paths(fig: Figure | None, run_dir: Path,
                   console: bool = True) -> list[tuple[str, Path | None]]:
    """(label, existing file or None) for the evidence of a figure: the capture with its
    frame numbers, the files (plots), the console log (when `console`, or no capture)."""
    if fig is None:
        return []
    ev = fig.measurement.evidence
    out: list[tuple[str, Path | None]] = []
    if ev.pcap:
        frames = ",".join(str(f) for f in ev.frames[:10]) + ("..." if len(ev.frames) > 10 else "")
        found = locate(ev.pcap, run_dir)
        label = _shown_path(found, run_dir) if found else ev.pcap
        out.append((f"{label}" + (f" frames {frames}" if frames else ""), found))
    for raw in [*ev.files, ev.console_log if console or not ev.pcap else None]:
        if raw:
            found = locate(raw, run_dir)
            out.append((_shown_path(found, run_dir) if found else raw, found))
    return out


def _value(fig: Figure | None) -> str:
    if fig is None:
        return "-"
    v = fig.verdict
    if v is not None and v.unit and v.measured is not None:
        return value_text(v.measured, v.unit)
    return value_text(fig.measurement.value, fig.measurement.unit)


def _outcome(fig: Figure | None) -> str:
    if fig is None:
        return "-"
    return fig.outcome.value if fig.outcome is not None else "no verdict"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def headline(c: Comparison) -> str:
    n_reg = len(c.regressions)
    parts = [f"**{n_reg} regression{'s' if n_reg != 1 else ''}**" if n_reg
             else "no regression"]
    for change, word in [(Change.IMPROVEMENT, "improved"), (Change.DOCUMENTED, "documented"),
                         (Change.VERDICT, "other verdict changes"),
                         (Change.MISSING, "only in BASE"), (Change.NEW, "only in CAND"),
                         (Change.SAME, "unchanged")]:
        if c.count(change):
            parts.append(f"{c.count(change)} {word}")
    return ", ".join(parts)


def _roles_line(c: Comparison) -> list[str]:
    rows = []
    for role, base_dut in c.roles.items():
        if role not in c.cand.dut_names() and base_dut not in c.base.dut_names():
            continue
        rows.append(f"| {role} | {base_dut} ({_builds(c.base, base_dut)}) | "
                    f"{role} ({_builds(c.cand, role)}) |")
    return rows


def markdown(c: Comparison, evidence_limit: int = 3) -> str:
    """The comparison for a CI comment: headline, DUT pairs, then each change."""
    lines = [f"## hilbench compare: {c.base.run_id} -> {c.cand.run_id}", "",
             headline(c), "", "| role | BASE DUT (build) | CAND DUT (build) |",
             "|---|---|---|", *_roles_line(c), ""]
    for change in ORDER:
        if change is Change.SAME:
            continue
        figs = [d for d in c.figures if d.change is change]
        tests = [d for d in c.tests if d.change is change]
        if not figs and not tests:
            continue
        lines += [f"### {TITLES[change]}", ""]
        if figs:
            lines += ["| DUT | figure | BASE | CAND | change | verdicts | BASE evidence | "
                      "CAND evidence |", "|---|---|---|---|---|---|---|---|"]
            for d in figs:
                b_ev = "; ".join(p for p, _ in evidence_paths(
                    d.base, c.base_dir, console=False)[:evidence_limit])
                c_ev = "; ".join(p for p, _ in evidence_paths(
                    d.cand, c.cand_dir, console=False)[:evidence_limit])
                name = d.name + (f" ({d.test})" if d.test else "")
                lines.append("| " + " | ".join(_md_cell(x) for x in [
                    d.role, f"`{name}`", _value(d.base), _value(d.cand), d.detail or "-",
                    f"{_outcome(d.base)} -> {_outcome(d.cand)}",
                    f"`{b_ev}`" if b_ev else "-", f"`{c_ev}`" if c_ev else "-"]) + " |")
            lines.append("")
        if tests:
            lines += ["| DUT | test | BASE | CAND | CAND message |", "|---|---|---|---|---|"]
            for t in tests:
                lines.append("| " + " | ".join(_md_cell(x) for x in [
                    t.role, f"{t.suite}: {t.test}", t.base.status if t.base else "-",
                    t.cand.status if t.cand else "-",
                    (t.cand.message if t.cand else "")[:200] or "-"]) + " |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


class ComparisonPage:
    def __init__(self, c: Comparison, page_dir: Path):
        self.c = c
        self.page_dir = page_dir

    def _evidence(self, fig: Figure | None, run_dir: Path) -> str:
        items = []
        for label, found in evidence_paths(fig, run_dir):
            items.append(link(href(found, self.page_dir), label) if found
                         else f'<span class="small">{esc(label)}</span>')
        return "<br>".join(items) or "-"

    def _verdict(self, fig: Figure | None) -> str:
        if fig is None:
            return "-"
        outcome = fig.outcome.value if fig.outcome is not None else None
        message = fig.verdict.message if fig.verdict is not None else ""
        return badge(outcome, None if outcome else "no verdict") + (
            f'<div class="msg">{esc(message)}</div>' if message else "")

    def figure_rows(self, diffs: list[FigureDiff]) -> list[list[str]]:
        return [[esc(d.role), f"<b>{esc(d.name)}</b>" + (
                    f'<br><span class="small">{esc(d.test)}</span>' if d.test else ""),
                 f'<td class="num">{esc(_value(d.base))}</td>',
                 f'<td class="num">{esc(_value(d.cand))}</td>', esc(d.detail or "-"),
                 self._verdict(d.base), self._verdict(d.cand),
                 self._evidence(d.base, self.c.base_dir),
                 self._evidence(d.cand, self.c.cand_dir)] for d in diffs]

    def test_rows(self, diffs: list[TestDiff]) -> list[list[str]]:
        def status(t: object) -> str:
            if t is None:
                return "-"
            word = {"PASS": "pass", "FAIL": "fail"}.get(t.status, "skip")  # type: ignore[attr-defined]
            return badge(word, t.status)  # type: ignore[attr-defined]

        return [[esc(d.role), esc(f"{d.suite}: {d.test}"), status(d.base), status(d.cand),
                 f'<div class="msg">{esc(d.cand.message if d.cand else "")}</div>']
                for d in diffs]

    def render(self) -> str:
        c = self.c
        out = [f"<h1>Comparison {esc(c.base.run_id)} &rarr; {esc(c.cand.run_id)}</h1>",
               f"<p>{'<b>' if c.regressions else ''}{esc(headline(c).replace('**', ''))}"
               f"{'</b>' if c.regressions else ''}</p>"]
        rows = []
        for role, base_dut in c.roles.items():
            rows.append([esc(role), esc(f"{base_dut} ({_builds(c.base, base_dut)}, profile "
                                        f"{c.base.dut(base_dut).profile})"),
                         esc(f"{role} ({_builds(c.cand, role)}, profile "
                             f"{c.cand.dut(role).profile})")])
        out.append(table(["role", "BASE DUT", "CAND DUT"], rows))
        for run, run_dir, word in [(c.base, c.base_dir, "BASE"), (c.cand, c.cand_dir, "CAND")]:
            report = run_dir / "report-hilbench.html"
            if report.is_file():
                out.append(f"<p>{word} run report: "
                           f"{link(href(report, self.page_dir), run.run_id)}</p>")
        for change in ORDER:
            figs = [d for d in c.figures if d.change is change]
            tests = [d for d in c.tests if d.change is change]
            if not figs and not tests:
                continue
            if change is Change.SAME:
                figs = figs[:SHOWN_SAME_LIMIT]
            cls = ' class="fail"' if change in REGRESSIONS else ""
            out.append(f"<h2{cls}>{esc(TITLES[change])}</h2>")
            if figs:
                out.append(table(["DUT", "figure", "BASE", "CAND", "change", "BASE verdict",
                                  "CAND verdict", "BASE evidence", "CAND evidence"],
                                 self.figure_rows(figs)))
            if tests:
                out.append(table(["DUT", "test", "BASE", "CAND", "CAND message"],
                                 self.test_rows(tests)))
        return page(f"compare {c.base.run_id} -> {c.cand.run_id}", "".join(out))


def write_comparison(c: Comparison, out_dir: Path) -> tuple[Path, Path]:
    """compare-<BASE run id>.html and .md in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"compare-{c.base.run_id}"
    html_path, md_path = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    html_path.write_text(ComparisonPage(c, out_dir).render(), encoding="utf-8")
    md_path.write_text(markdown(c), encoding="utf-8")
    return html_path, md_path
