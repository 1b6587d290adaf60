"""`hilbench report RUN`: one self-contained HTML page per run folder.

What a reviewer reads first: a matrix of behaviour IDs by DUT with the verdict of each,
then every figure with its value, expectation, tolerance, verdict and evidence, the plots
inline, the current each DUT drew, and links to the pcaps, the console logs and Robot's
log.html. It reads results.json only: a report never re-runs a measurement.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from bench.report.links import data_uri, files_in, href, is_image, locate
from bench.report.page import badge, esc, link, page, table, value_text, worst
from bench.report.schema import Figure, Results, load_results
from bench.report.store import run_verdict

REPORT_FILE = "report-hilbench.html"  # beside Robot's report.html, never over it
CATALOGUE_ORDER = ["HS", "DT", "FC", "CC", "MS", "CL", "RS", "UD"]
ROBOT_FILES = [("log.html", "Robot log"), ("report.html", "Robot report"),
               ("output.xml", "Robot output.xml"), ("xunit.xml", "xUnit"),
               ("results.json", "results.json")]
TEST_OUTCOME = {"PASS": "pass", "FAIL": "fail", "SKIP": "skip", "NOT RUN": "skip"}


def anchor(*parts: object) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(str(p) for p in parts)).strip("-")


def id_sort_key(behaviour: str) -> tuple[int, str]:
    family, _, number = behaviour.partition("-")
    order = CATALOGUE_ORDER.index(family) if family in CATALOGUE_ORDER else len(CATALOGUE_ORDER)
    return order, f"{family}-{number:>04}"


class RunReport:
    """Renders one run; `page_dir` is where the page will live (links are relative)."""

    def __init__(self, results: Results, run_dir: Path, page_dir: Path | None = None):
        self.results = results
        self.run_dir = run_dir
        self.page_dir = page_dir or run_dir
        self.figures = list(results.figures())

    # -- pieces ----------------------------------------------------------------------
    def file_link(self, raw: str | None, text: str | None = None) -> str:
        """A link to an evidence file, or its name in plain text when it is missing."""
        target = locate(raw, self.run_dir)
        if target is None:
            return f'<span class="small" title="not in the run folder">{esc(raw)}</span>' \
                if raw else ""
        return link(href(target, self.page_dir), text or target.name)

    def evidence(self, fig: Figure) -> str:
        ev = fig.measurement.evidence
        parts = []
        if ev.pcap:
            frames = ", ".join(str(f) for f in ev.frames[:12])
            more = ", ..." if len(ev.frames) > 12 else ""
            parts.append(self.file_link(ev.pcap) + (f" frames {esc(frames)}{more}"
                                                    if frames else ""))
        if ev.console_log:
            parts.append("console " + self.file_link(ev.console_log))
        for raw in ev.files:
            target = locate(raw, self.run_dir)
            if target is not None and is_image(target):
                parts.append(link(f"#{anchor('plot', target.name)}", f"plot {target.name}"))
            else:
                parts.append(self.file_link(raw))
        if ev.console_lines:
            lines = "\n".join(ev.console_lines)
            parts.append(f"<details><summary>{len(ev.console_lines)} console line(s)"
                         f'</summary><div class="msg">{esc(lines)}</div></details>')
        if ev.note:
            parts.append(f'<span class="small">{esc(ev.note)}</span>')
        return "<br>".join(p for p in parts if p) or '<span class="small">none</span>'

    def header(self) -> str:
        r = self.results
        verdict, why = run_verdict(r)
        rows = [("Run", esc(r.run_id)), ("Verdict", badge(verdict) + " " + esc(why)),
                ("Started", esc(r.started)), ("Finished", esc(r.finished)),
                ("Bench version", esc(r.bench_version)),
                ("Robot exit code", esc("" if r.robot_rc is None else r.robot_rc)),
                ("Tags", esc(" ".join([*(f"+{t}" for t in r.include),
                                       *(f"-{t}" for t in r.exclude)]) or "all"))]
        links = [link(href(self.run_dir / name, self.page_dir), text)
                 for name, text in ROBOT_FILES if (self.run_dir / name).is_file()]
        nav = ("<nav>" + "".join(link(f"#{a}", t) for a, t in [
            ("matrix", "Behaviours"), ("duts", "DUTs"), ("figures", "Figures"),
            ("plots", "Plots"), ("power", "Power"), ("tests", "Tests"), ("files", "Files")])
            + "</nav>")
        return (f"<h1>hilbench run {esc(r.run_id)}</h1>{nav}"
                + table(["", ""], [(k, v) for k, v in rows], "meta")
                + ("<p>" + " · ".join(links) + "</p>" if links else ""))

    def dut_table(self) -> str:
        rows = []
        for name in self.results.dut_names():
            entry = self.results.dut(name)
            tests = [t for t in self.results.tests if t.dut == name]
            figs = [f for f in self.figures if f.dut == name]
            counts = defaultdict(int)
            for f in figs:
                counts[f.outcome.value if f.outcome else "none"] += 1
            summary = " ".join(badge(k, f"{n} {k.replace('_', ' ')}")
                               for k, n in sorted(counts.items()))
            consoles = [link(href(p, self.page_dir), p.name)
                        for p in files_in(self.run_dir / "consoles", f"*{name}*")]
            failed = sum(t.status == "FAIL" for t in tests)
            rows.append([esc(name), esc(entry.kind), esc(entry.profile),
                         esc(", ".join(entry.builds) or "?"),
                         f"{len(tests)} ({failed} failed)" if tests else "0",
                         summary or "-", " ".join(consoles) or "-"])
        return '<h2 id="duts">DUTs</h2>' + table(
            ["DUT", "kind", "profile", "firmware build", "tests", "figures", "console log"],
            rows)

    def matrix(self) -> str:
        """Behaviour IDs (rows) by DUT (columns): the worst verdict of its figures and
        tests, each cell linking to the figures behind it."""
        duts = self.results.dut_names()
        cells: dict[tuple[str, str], list[str]] = defaultdict(list)
        for fig in self.figures:
            for bid in fig.behaviours:
                cells[(bid, fig.dut)].append(fig.outcome.value if fig.outcome else "none")
        for test in self.results.tests:
            for bid in test.behaviours:
                cells[(bid, test.dut)].append(TEST_OUTCOME.get(test.status, "none"))
        ids = sorted({bid for bid, _ in cells}, key=id_sort_key)
        if not ids:
            return ('<h2 id="matrix">Behaviours by DUT</h2><p>No test or figure of this run '
                    "names a behaviour ID.</p>")
        rows = []
        for bid in ids:
            row = [f'<td id="{anchor("id", bid)}"><b>{esc(bid)}</b></td>']
            for dut in duts:
                outcomes = cells.get((bid, dut))
                if not outcomes:
                    row.append('<td class="none">-</td>')
                    continue
                top = worst(outcomes)
                count = f" ({len(outcomes)})" if len(outcomes) > 1 else ""
                row.append(f'<td class="{esc(top)}"><a href="#{anchor("dut", dut)}">'
                           f"{esc(top.replace('_', ' '))}{count}</a></td>")
            rows.append(row)
        return ('<h2 id="matrix">Behaviours by DUT</h2><p class="small">The worst verdict of '
                "the figures and tests that carry each ID (fail &gt; deviation &gt; pass); "
                "the count is how many there are.</p>"
                + table(["ID", *map(esc, duts)], rows))

    def figure_rows(self, figs: list[Figure]) -> list[list[str]]:
        rows = []
        for fig in figs:
            m, v = fig.measurement, fig.verdict
            unit = v.unit if v is not None and v.unit else m.unit
            measured = value_text(v.measured if v is not None else m.value, unit)
            own = m.tolerance
            spread = f" +-{own.abs:g}" if own.abs else (f" +-{own.pct:g} %" if own.pct else "")
            expected = value_text(v.expected, unit) if v is not None else "-"
            tol = ""
            if v is not None and v.tolerance:
                t = v.tolerance
                tol = (f"+-{max(t):g}" if isinstance(t, list) else f"+-{t:g}") + f" {unit}"
            why = v.tolerance_why if v is not None else own.why
            outcome = v.outcome.value if v is not None else None
            message = v.message if v is not None else "no verdict recorded"
            rows.append([
                esc(fig.record.test or "-"),
                f'<b id="{anchor("fig", fig.index, m.name)}">{esc(m.name)}</b><br>'
                f'<span class="small">{esc(", ".join(fig.behaviours))}</span>',
                f'<td class="num">{esc(measured)}{esc(spread)}</td>',
                f'<td class="num">{esc(expected)}</td>',
                f'{esc(tol)}<br><span class="small">{esc(why)}</span>',
                badge(outcome, "not recorded" if outcome is None else None),
                f'<div class="msg">{esc(message)}</div>',
                self.evidence(fig)])
        return rows

    def figure_tables(self) -> str:
        out = ['<h2 id="figures">Figures</h2>']
        if not self.figures:
            out.append("<p>No measurement was recorded in this run.</p>")
        for dut in self.results.dut_names():
            figs = [f for f in self.figures if f.dut == dut]
            if not figs:
                continue
            entry = self.results.dut(dut)
            out.append(f'<h3 id="{anchor("dut", dut)}">{esc(dut)} '
                       f'<span class="small">profile {esc(entry.profile)}, build '
                       f'{esc(", ".join(entry.builds) or "?")}</span></h3>')
            out.append(table(["test", "figure", "measured", "expected", "tolerance",
                              "verdict", "message", "evidence"], self.figure_rows(figs)))
        return "".join(out)

    def plots(self) -> str:
        """Every image a figure names as evidence, plus any in plots/, once each."""
        seen: dict[Path, list[str]] = {}
        for fig in self.figures:
            for raw in fig.measurement.evidence.files:
                target = locate(raw, self.run_dir)
                if target is not None and is_image(target):
                    seen.setdefault(target.resolve(), []).append(f"{fig.dut}: {fig.name}")
        for path in files_in(self.run_dir / "plots"):
            if is_image(path):
                seen.setdefault(path.resolve(), [])
        # one picture per plot: the PNG when there is also an SVG of it (linked)
        stems = {p.with_suffix("") for p in seen if p.suffix.lower() == ".png"}
        items = []
        for path, users in seen.items():
            if path.suffix.lower() == ".svg" and path.with_suffix("") in stems:
                continue
            svg = path.with_suffix(".svg")
            also = (" · " + link(href(svg, self.page_dir), "SVG")
                    if path.suffix.lower() == ".png" and svg.is_file() else "")
            caption = esc(path.name) + also + (
                f'<br><span class="small">{esc("; ".join(sorted(set(users))))}</span>'
                if users else "")
            items.append(f'<figure id="{anchor("plot", path.name)}"><img alt="{esc(path.name)}"'
                         f' src="{data_uri(path)}"><figcaption>{caption}</figcaption></figure>')
        # anchors for SVG-only references that were folded into their PNG
        for path in seen:
            if path.suffix.lower() == ".svg" and path.with_suffix("") in stems:
                items.append(f'<span id="{anchor("plot", path.name)}"></span>')
        body = "".join(items) if items else "<p>No plots in this run.</p>"
        return f'<h2 id="plots">Plots</h2><div class="plots">{body}</div>'

    def power(self) -> str:
        traces = [p for p in self.results.power if p.samples]
        if not traces:
            return '<h2 id="power">Power</h2><p>No current was sampled in this run.</p>'
        out = ['<h2 id="power">Power</h2>']
        for trace in traces:
            amps = [a for _, a in trace.samples]
            stats = (f"{len(amps)} samples over {trace.samples[-1][0] - trace.samples[0][0]:.1f}"
                     f" s: min {min(amps) * 1000:.1f} mA, mean "
                     f"{sum(amps) / len(amps) * 1000:.1f} mA, max {max(amps) * 1000:.1f} mA")
            out.append(f"<h3>{esc(trace.dut)}</h3><p>{esc(stats)}</p>"
                       + current_svg(trace.samples))
        return "".join(out)

    def tests(self) -> str:
        rows = [[esc(t.suite), esc(t.test), esc(t.dut), esc(t.build),
                 badge(TEST_OUTCOME.get(t.status, "none"), t.status),
                 esc(" ".join(x for x in t.tags if not x.startswith("dut:"))),
                 f'<td class="num">{t.elapsed_s:.2f} s</td>',
                 f'<div class="msg">{esc(t.message)}</div>']
                for t in self.results.tests]
        body = table(["suite", "test", "DUT", "build", "status", "tags", "time", "message"],
                     rows) if rows else "<p>No Robot test ran in this run.</p>"
        log = self.run_dir / "log.html"
        more = (f"<p>Keyword by keyword: {link(href(log, self.page_dir), 'Robot log.html')}</p>"
                if log.is_file() else "")
        return f'<h2 id="tests">Robot tests</h2>{more}{body}'

    def files(self) -> str:
        out = ['<h2 id="files">Files</h2>']
        for folder, what in [("pcaps", "Captures (pcapng, open in Wireshark)"),
                             ("consoles", "Console logs"), ("plots", "Plots")]:
            found = [p for p in (self.run_dir / folder).rglob("*") if p.is_file()] \
                if (self.run_dir / folder).is_dir() else []
            items = "".join(f"<li>{link(href(p, self.page_dir), str(p.relative_to(self.run_dir)))}"
                            f' <span class="small">{p.stat().st_size:,} bytes</span></li>'
                            for p in sorted(found))
            out.append(f"<h3>{esc(what)}</h3>" + (f"<ul>{items}</ul>" if items
                                                   else '<p class="small">none</p>'))
        return "".join(out)

    def render(self) -> str:
        body = "".join([self.header(), self.matrix(), self.dut_table(), self.figure_tables(),
                        self.plots(), self.power(), self.tests(), self.files()])
        return page(f"hilbench {self.results.run_id}", body)


def current_svg(samples: list[tuple[float, float]], width: int = 640,
                height: int = 160) -> str:
    """Current over time as an inline SVG line (mA), so the page stays one file."""
    t0 = samples[0][0]
    ts = [t - t0 for t, _ in samples]
    ma = [a * 1000 for _, a in samples]
    span_t = max(ts[-1], 1e-9)
    low, high = min(ma), max(ma)
    span_a = max(high - low, 1e-9)
    pad = 30
    points = " ".join(f"{pad + t / span_t * (width - 2 * pad):.1f},"
                      f"{height - pad - (a - low) / span_a * (height - 2 * pad):.1f}"
                      for t, a in zip(ts, ma, strict=True))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="current in mA over time">'
            f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ccc"/>'
            f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{points}"/>'
            f'<text x="4" y="14" font-size="11">{high:.1f} mA</text>'
            f'<text x="4" y="{height - 6}" font-size="11">{low:.1f} mA</text>'
            f'<text x="{width - 60}" y="{height - 6}" font-size="11">{span_t:.1f} s</text>'
            "</svg>")


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Render the run folder's report into `out` (default: run_dir/report-hilbench.html).
    `run_dir` may also be a results file; its folder is the run folder."""
    results = load_results(run_dir)
    run_dir = run_dir if run_dir.is_dir() else run_dir.parent
    target = out or run_dir / REPORT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    html = RunReport(results, run_dir, target.parent).render()
    target.write_text(html, encoding="utf-8")
    return target
