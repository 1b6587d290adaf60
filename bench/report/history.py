"""`hilbench history`: chosen figures across the runs of the store, by firmware build.

A figure is chosen by its name (`time_wait_s`), or by its name and a detail for figures
measured at several settings: `NAME@KEY=V` takes, among the figures named NAME, the one
whose details[KEY] is V; for a sweep (a list value with a list detail of the same
length, or details holding one dict per point) the element where KEY is V:
`goodput_mbps@loss=0.01` is the loss sweep's median goodput at 1 % loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)

from bench.report.schema import Figure, Results, ResultsError, load_results  # noqa: E402
from bench.report.store import RunEntry, RunStore  # noqa: E402

# the headline trend figures: initial window, TIME_WAIT, SYN give-up, goodput at 1 %
DEFAULT_FIGURES = ["initial_window_segments", "time_wait_s", "syn_give_up_s",
                   "goodput_mbps@loss=0.01"]


@dataclass(frozen=True)
class Spec:
    name: str
    key: str = ""
    want: float | str | None = None

    @classmethod
    def parse(cls, text: str) -> Spec:
        name, at, cond = text.partition("@")
        if not at:
            return cls(name)
        key, eq, raw = cond.partition("=")
        if not eq or not key:
            raise ValueError(f"figure {text!r}: expected NAME or NAME@DETAIL=VALUE")
        try:
            want: float | str = float(raw)
        except ValueError:
            want = raw
        return cls(name, key, want)

    def __str__(self) -> str:
        return f"{self.name}@{self.key}={self.want:g}" if isinstance(self.want, float) \
            else (f"{self.name}@{self.key}={self.want}" if self.key else self.name)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _detail(details: dict[str, Any], key: str, value: Any) -> Any:
    """details[key]; for a sweep whose details hold one dict per point
    (details.points[i].loss), the list of that key across the points."""
    if key in details:
        return details[key]
    if isinstance(value, list):
        for rows in details.values():
            if (isinstance(rows, list) and len(rows) == len(value) and rows
                    and all(isinstance(r, dict) and key in r for r in rows)):
                return [r[key] for r in rows]
    return None


def pick(spec: Spec, fig: Figure) -> float | None:
    """The number `spec` selects from one figure, or None."""
    m = fig.measurement
    if m.name != spec.name:
        return None
    if not spec.key:
        return float(m.value) if _number(m.value) else None
    detail = _detail(m.details, spec.key, m.value)
    if isinstance(m.value, list) and isinstance(detail, list) and len(detail) == len(m.value):
        for d, v in zip(detail, m.value, strict=True):
            if _same(d, spec.want) and _number(v):
                return float(v)
        return None
    if detail is not None and _same(detail, spec.want) and _number(m.value):
        return float(m.value)
    return None


@dataclass
class Point:
    run_id: str
    started: str
    dut: str
    build: str
    value: float
    unit: str


def points(spec: Spec, runs: list[tuple[RunEntry, Results]],
           duts: list[str] | None = None) -> list[Point]:
    """One point per (run, DUT): the first figure the spec selects."""
    out = []
    for entry, results in runs:
        done: set[str] = set()
        for fig in results.figures():
            if fig.dut in done or (duts and fig.dut not in duts):
                continue
            value = pick(spec, fig)
            if value is None:
                continue
            build = fig.record.build or entry.build_of(fig.dut)
            out.append(Point(entry.run_id, entry.started, fig.dut, build, value,
                             fig.measurement.unit))
            done.add(fig.dut)
    return out


def load_runs(store: RunStore) -> list[tuple[RunEntry, Results]]:
    """Every readable run of the store, oldest first."""
    runs = []
    for entry in store.entries():
        try:
            runs.append((entry, load_results(store.folder(entry))))
        except ResultsError:
            continue  # listed by the index as verdict 'error'; nothing to plot
    return runs


def plot_history(series: dict[str, list[Point]], run_order: list[str], out_dir: Path,
                 stem: str = "history") -> list[Path]:
    """One panel per figure, one line per DUT, x = runs in time order; a point's label is
    its firmware build where the build changed. PNG and SVG; returns the paths."""
    names = list(series)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.8 * len(names)), squeeze=False)
    position = {run: i for i, run in enumerate(run_order)}
    for ax, name in zip(axes[:, 0], names, strict=True):
        pts = series[name]
        for dut in sorted({p.dut for p in pts}):
            mine = sorted((p for p in pts if p.dut == dut), key=lambda p: position[p.run_id])
            xs = [position[p.run_id] for p in mine]
            ax.plot(xs, [p.value for p in mine], marker="o", label=dut)
            last = None
            for p, x in zip(mine, xs, strict=True):
                if p.build != last:
                    ax.annotate(p.build, (x, p.value), textcoords="offset points",
                                xytext=(3, 6), fontsize=7, rotation=20)
                    last = p.build
        unit = pts[0].unit if pts else ""
        ax.set_title(name, fontsize=10, loc="left")
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
        if pts:
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "not measured in any run", transform=ax.transAxes,
                    ha="center", va="center", color="#888")
    bottom = axes[-1, 0]
    bottom.set_xticks(range(len(run_order)))
    bottom.set_xticklabels(run_order, rotation=30, ha="right", fontsize=7)
    for ax in axes[:-1, 0]:
        ax.set_xticks(range(len(run_order)))
        ax.set_xticklabels([])
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    for path in paths:
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return paths


def history(store: RunStore, specs: list[Spec], out_dir: Path,
            duts: list[str] | None = None) -> tuple[dict[str, list[Point]], list[Path]]:
    """The series of each figure and the plot files."""
    runs = load_runs(store)
    series = {str(s): points(s, runs, duts) for s in specs}
    used = {p.run_id for pts in series.values() for p in pts}
    order = [entry.run_id for entry, _ in runs if entry.run_id in used]
    return series, plot_history(series, order, out_dir)
