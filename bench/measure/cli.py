"""`hilbench measure NAME --dut X [--out DIR] [-o KEY=VALUE ...]`: run one measurement
against a DUT of the running lab, print a table (figure, verdict against the DUT's
profile, evidence) and write DIR/results.json."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.measure.registry import MEASUREMENTS

if TYPE_CHECKING:
    from bench.inventory import Inventory
    from bench.profiles.models import Profile


def parse_option(text: str) -> tuple[str, Any]:
    """'rounds=2' -> ('rounds', 2); values are JSON when they parse, else strings;
    'settings.tcp_syn_retries=2' -> ('settings', {'tcp_syn_retries': 2})."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, list):
        value = tuple(value)
    head, dot, sub = key.partition(".")
    return (head, {sub: value}) if dot else (key, value)


def options_from(pairs: list[tuple[str, Any]], base: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """`base` (the profile's options) with the command line's on top; a dict option
    (`settings.x=1`) adds to the base's dict instead of replacing it."""
    options: dict[str, Any] = {key: dict(value) if isinstance(value, dict) else value
                               for key, value in (base or {}).items()}
    for key, value in pairs:
        if isinstance(value, dict) and isinstance(options.get(key), dict):
            options[key].update(value)
        else:
            options[key] = value
    return options


def run_options(inv: Inventory, profile: Profile, name: str,
                pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """What a measurement runs with: what the lab gives it (the bridge's socket), the
    profile's options for it, then `pairs` (command line, Robot keyword) on top."""
    from bench.measure.peer_session import lab_options

    base = {**lab_options(inv, MEASUREMENTS[name]), **profile.options_for(name)}
    return options_from(pairs, base=base)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_measure(args: argparse.Namespace) -> int:

    from bench.cli import duts_named, inventory_from
    from bench.lab.access import DutSession
    from bench.measure.peer_session import dut_ip, open_peer
    from bench.profiles import load_profile
    from bench.verdict import judge_as_measured

    inv = inventory_from(args)
    duts_named(inv, [args.dut])
    entry = inv.dut(args.dut)
    out = Path(args.out or f"results/{time.strftime('%Y%m%d-%H%M%S')}-{args.name}")
    out.mkdir(parents=True, exist_ok=True)
    profile = load_profile(entry.profile)
    # the profile's options for this stack (as the Robot suites use), the command line's on top
    options = run_options(inv, profile, args.name, args.option or [])
    with DutSession(inv, args.dut, out) as dut, open_peer(inv, out, dut=args.dut) as peer:
        m = MEASUREMENTS[args.name](dut, peer, dut_ip(inv, args.dut), out, **options)
        consts = dut.consts()
    context = {"link_mtu": entry.link.mtu}
    results = []
    rows = [["figure", "value", "+-", "verdict", "evidence"]]
    for one in m.figures():
        verdict = judge_as_measured(one, profile, consts, context)
        results.append({"measurement": one.model_dump(mode="json"),
                        "verdict": verdict.model_dump(mode="json")})
        frames = ",".join(str(f) for f in one.evidence.frames[:8])
        more = "..." if len(one.evidence.frames) > 8 else ""
        rows.append([one.name, f"{one.value} {one.unit}", f"{one.tolerance.abs:g}",
                     verdict.outcome.value, f"frames {frames}{more}" if frames else ""])
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{args.name} on {args.dut} (profile {entry.profile})"
          + (f", options {json.dumps(options)}" if options else ""))
    print(table(rows))
    print(f"pcap: {m.evidence.pcap}\nresults: {out / 'results.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `measure NAME --dut X [--out DIR] [-o KEY=VALUE]` to the main CLI."""
    parser = subparsers.add_parser("measure", help="run one measurement against a DUT")
    parser.add_argument("name", choices=sorted(MEASUREMENTS), help="what to measure")
    parser.add_argument("--dut", required=True, help="DUT name from the inventory")
    parser.add_argument("--out", help="folder for the pcap, console log and results.json")
    parser.add_argument("-o", "--option", action="append", type=parse_option,
                        metavar="KEY=VALUE",
                        help="measurement option, e.g. connections=12, window_s=[59.5,62.8], "
                             "settings.tcp_syn_retries=2")
    parser.set_defaults(func=cmd_measure)
