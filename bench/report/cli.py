"""`hilbench report`, `hilbench compare`, `hilbench history`: reading run folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.report.store import DEFAULT_ROOT

FAIL_ON = ("regression", "verdict", "never")


def _store(args: argparse.Namespace):  # noqa: ANN202 (RunStore, imported late)
    from bench.report.store import RunStore

    return RunStore(Path(args.results))


def _cli_error(exc: Exception):  # noqa: ANN202
    from bench.cli import CliError

    return CliError(str(exc))


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.html import write_report
    from bench.report.schema import ResultsError

    try:
        run_dir = _store(args).resolve(args.run)
        path = write_report(run_dir, Path(args.out) if args.out else None)
    except ResultsError as exc:
        raise _cli_error(exc) from None
    print(f"report: {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.report.compare import MappingError, compare_runs, parse_map
    from bench.report.compare_render import headline, markdown, write_comparison
    from bench.report.schema import ResultsError, load_results

    store = _store(args)
    try:
        base_dir, cand_dir = store.resolve(args.base), store.resolve(args.cand)
        base, cand = load_results(base_dir), load_results(cand_dir)
        base_dir = base_dir if base_dir.is_dir() else base_dir.parent
        cand_dir = cand_dir if cand_dir.is_dir() else cand_dir.parent
        comparison = compare_runs(base, cand, base_dir, cand_dir, parse_map(args.map or []))
    except (ResultsError, MappingError) as exc:
        raise _cli_error(exc) from None
    html_path, md_path = write_comparison(comparison, Path(args.out) if args.out else cand_dir)
    if args.markdown:
        print(markdown(comparison), end="")
    else:
        print(f"{base.run_id} -> {cand.run_id}: {headline(comparison).replace('**', '')}")
        for d in comparison.regressions:
            print(f"  REGRESSION {d.role} {getattr(d, 'name', None) or d.test}: "
                  f"{getattr(d, 'detail', '') or (d.cand.status if d.cand else 'gone')}")
    print(f"comparison: {html_path} (Markdown: {md_path})")
    return comparison.exit_code(args.fail_on)


def cmd_history(args: argparse.Namespace) -> int:
    from bench.report.history import DEFAULT_FIGURES, Spec, history

    try:
        specs = [Spec.parse(f) for f in (args.figure or DEFAULT_FIGURES)]
    except ValueError as exc:
        raise _cli_error(exc) from None
    store = _store(args)
    out = Path(args.out) if args.out else store.root / "history"
    series, paths = history(store, specs, out, args.dut or None)
    for name, pts in series.items():
        print(f"{name}: {len(pts)} point(s)")
        for p in pts:
            print(f"  {p.started or '?':25} {p.run_id:34} {p.dut:16} {p.build:34} "
                  f"{p.value:g} {p.unit}")
    print("plots: " + ", ".join(str(p) for p in paths))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    results_help = "the results store (default: %(default)s)"

    p = sub.add_parser("report", help="write a run folder's HTML report "
                       "(report-hilbench.html beside Robot's report.html)")
    p.add_argument("run", help="run folder, run id in the store, or 'latest'")
    p.add_argument("--out", help="write the page here instead")
    p.add_argument("--results", default=str(DEFAULT_ROOT), help=results_help)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="regression report between two runs (HTML + Markdown); "
                       "exit 1 on a regression")
    p.add_argument("base", help="the reference run (folder, run id or 'latest')")
    p.add_argument("cand", help="the candidate run (folder, run id or 'latest')")
    p.add_argument("--map", action="append", metavar="BASE_DUT=CAND_DUT",
                   help="compare BASE's DUT with CAND's DUT of another name (repeatable)")
    p.add_argument("--out", help="folder for compare-<BASE>.html/.md (default: CAND's folder)")
    p.add_argument("--fail-on", choices=FAIL_ON, default="regression",
                   help="exit 1 on: a worse verdict or an undocumented move (regression, "
                   "default), a worse verdict only (verdict), never")
    p.add_argument("--markdown", action="store_true", help="print the Markdown on stdout")
    p.add_argument("--results", default=str(DEFAULT_ROOT), help=results_help)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("history", help="plot chosen figures across the runs, by firmware build")
    p.add_argument("--figure", action="append", metavar="NAME[@DETAIL=VALUE]",
                   help="figure to follow (repeatable; default: initial_window_segments, "
                   "time_wait_s, syn_give_up_s, goodput_mbps@loss=0.01)")
    p.add_argument("--dut", action="append", help="only this DUT (repeatable)")
    p.add_argument("--out", help="folder for history.png/.svg (default: RESULTS/history)")
    p.add_argument("--results", default=str(DEFAULT_ROOT), help=results_help)
    p.set_defaults(func=cmd_history)
