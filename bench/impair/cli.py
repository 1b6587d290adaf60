"""`hilbench impair set|show|clear`: change the running bridge's rules from a shell.

Wired into the main CLI by `register(subparsers)`; each subcommand sets `func`, called
as `args.func(args) -> exit code`. Bad settings end with one line naming the flag and
exit 2; an unreachable bridge exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.impair import control, units
from bench.impair.rules import DIRECTIONS, RuleSet, first_error

_PROTOS = {"tcp", "udp", "icmp", "ip", "any"}
_FLAGS = {"syn": "S", "fin": "F", "rst": "R", "ack": "A", "psh": "P"}


class RuleArgError(ValueError):
    """A flag whose value is wrong; message starts with the flag's name."""


def parse_match(text: str) -> tuple[dict[str, Any], str | None]:
    """'tcp,from-dut,data' -> (match fields, direction or None)."""
    match: dict[str, Any] = {}
    direction = None
    for token in filter(None, (t.strip().lower() for t in text.split(","))):
        key, _, value = token.partition("=")
        if token in _PROTOS:
            match["proto"] = token
        elif token in ("from-dut", "to-bench"):
            direction = "to-bench"
        elif token in ("from-bench", "to-dut"):
            direction = "to-dut"
        elif token == "data":
            match["payload_min_bytes"] = 1
        elif token in _FLAGS:
            match["tcp_flags_set"] = match.get("tcp_flags_set", "") + _FLAGS[token]
        elif key in ("sport", "dport") and value:
            match["src_port" if key == "sport" else "dst_port"] = value
        elif key in ("src", "dst") and value:
            match["src_net" if key == "src" else "dst_net"] = value
        else:
            raise RuleArgError(f"--match: unknown term {token!r} (use tcp/udp/icmp, "
                               "from-dut/from-bench, data, syn/fin/rst/ack, sport=N, "
                               "dport=N, src=NET, dst=NET)")
    return match, direction


def _flag(name: str, parse, text: str):
    try:
        return parse(text)
    except units.UnitError as exc:
        raise RuleArgError(f"{name}: {exc}") from None


def build_rules(args: argparse.Namespace) -> RuleSet:
    """The rule set that `impair set` flags describe (stage order: scripted drop, loss,
    duplicate, corrupt, delay, reorder, rate)."""
    match, match_dir = parse_match(args.match or "")
    if match_dir and args.direction not in ("both", match_dir):
        raise RuleArgError(f"--match says {match_dir} but --direction says {args.direction}")
    directions = [match_dir] if match_dir else (
        list(DIRECTIONS) if args.direction == "both" else [args.direction])
    stages: list[dict[str, Any]] = []

    def add(action: dict[str, Any], select: dict[str, Any] | None = None,
            extra_match: dict[str, Any] | None = None, log: str = "all") -> None:
        stage: dict[str, Any] = {"match": {**match, **(extra_match or {})}, "action": action,
                                 "log": log}
        if select:
            stage["select"] = select
        stages.append(stage)

    if args.drop_nth is not None:
        add({"kind": "drop"}, extra_match={"nth": args.drop_nth})
    if args.loss and args.gilbert:
        raise RuleArgError("--loss and --gilbert are two loss models: give one")
    if args.loss:
        add({"kind": "drop"}, {"kind": "random",
                               "probability": _flag("--loss", units.parse_probability, args.loss)})
    if args.gilbert:
        parts = args.gilbert.split(",")
        if not 2 <= len(parts) <= 4:
            raise RuleArgError("--gilbert: expected p,r[,h[,k]] e.g. '1%,25%'")
        names = ("p", "r", "h", "k")
        add({"kind": "drop"}, {"kind": "gilbert", **{
            n: _flag("--gilbert", units.parse_probability, v) for n, v in zip(names, parts,
                                                                               strict=False)}})
    if args.duplicate:
        add({"kind": "duplicate"}, {"kind": "random", "probability": _flag(
            "--duplicate", units.parse_probability, args.duplicate)})
    if args.corrupt:
        add({"kind": "corrupt"}, {"kind": "random", "probability": _flag(
            "--corrupt", units.parse_probability, args.corrupt)})
    if args.delay or args.jitter:
        add({"kind": "delay",
             "delay_ms": _flag("--delay", units.parse_duration_ms, args.delay or "0"),
             "jitter_ms": _flag("--jitter", units.parse_duration_ms, args.jitter or "0")})
    if args.reorder is not None:
        add({"kind": "reorder", "depth": args.reorder}, {"kind": "random", "probability": _flag(
            "--reorder-prob", units.parse_probability, args.reorder_prob)})
    if args.rate:
        action: dict[str, Any] = {"kind": "rate",
                                  "rate_bps": _flag("--rate", units.parse_rate_bps, args.rate)}
        if args.limit:
            packets, size = _flag("--limit", units.parse_limit, args.limit)
            action["limit_packets"] = packets
            action["limit_bytes"] = size
        add(action, log="drops")
    elif args.limit:
        raise RuleArgError("--limit: is the queue limit of --rate; give --rate too")
    doc = {"seed": args.seed, **{d: stages for d in directions}}
    try:
        return RuleSet.model_validate(doc)
    except ValueError as exc:
        raise RuleArgError(first_error(exc)) from None


def _fail(command: str, message: str, code: int) -> int:
    print(f"hilbench impair {command}: {message}", file=sys.stderr)
    return code


def cmd_set(args: argparse.Namespace) -> int:
    try:
        rules = build_rules(args)
    except RuleArgError as exc:
        return _fail("set", str(exc), 2)
    return _request(args, "set", {"op": "set", "rules": rules.to_json()},
                    lambda _reply: print(json.dumps(rules.to_json())))


def cmd_show(args: argparse.Namespace) -> int:
    def render(reply: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(reply, indent=2))
            return
        print(format_counters(reply))

    return _request(args, "show", {"op": "show"}, render)


def cmd_clear(args: argparse.Namespace) -> int:
    return _request(args, "clear", {"op": "clear"}, lambda _reply: print("cleared"))


def control_path(args: argparse.Namespace) -> str:
    """--control, else the bridge of the lab the inventory (-i) describes."""
    if args.control:
        return str(args.control)
    from bench.inventory import DEFAULT_PATH, load
    from bench.lab.up import impair_socket

    return str(impair_socket(load(getattr(args, "inventory", None) or DEFAULT_PATH)))


def _request(args: argparse.Namespace, command: str, message: dict[str, Any], done) -> int:
    try:
        reply = control.request(control_path(args), message)
    except control.ControlError as exc:
        return _fail(command, str(exc), 1)
    if not reply.get("ok"):
        return _fail(command, reply.get("error", "refused"), 2)
    done(reply)
    return 0


def format_counters(reply: dict[str, Any]) -> str:
    """The `show` reply as a table: one row per stage, then the ports."""
    rows = [("direction", "rule", "kind", "seen", "matched", "acted")]
    for direction, pipe in reply.get("stages", {}).items():
        for stage in pipe["stages"]:
            acted = ", ".join(f"{k}={v}" for k, v in stage.items()
                              if k not in ("rule", "kind", "seen", "matched"))
            rows.append((direction, stage["rule"], stage["kind"], str(stage["seen"]),
                         str(stage["matched"]), acted or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    if len(rows) == 1:
        lines.append("(no impairment rules)")
    for name, port in reply.get("ports", {}).items():
        lines.append(f"port {name}: " + ", ".join(f"{k}={v}" for k, v in port.items()))
    lines.append(f"queued={reply.get('queued', 0)} log_records={reply.get('log_records', 0)}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `impair set|show|clear` to the main CLI."""
    impair = subparsers.add_parser("impair", help="change the impairment bridge at run time")
    commands = impair.add_subparsers(dest="impair_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--control",
                            help="bridge control socket (default: the bridge of the lab "
                                 "in the inventory, <state_dir>/impair-<prefix>.sock)")

    set_ = commands.add_parser("set", help="replace the rules (both directions)")
    common(set_)
    set_.add_argument("--loss", help="uniform random loss, e.g. 1%%")
    set_.add_argument("--gilbert", help="Gilbert-Elliott loss p,r[,h[,k]], e.g. 1%%,25%%")
    set_.add_argument("--delay", help="fixed delay, e.g. 20ms")
    set_.add_argument("--jitter", help="uniform jitter +-, e.g. 2ms (order kept)")
    set_.add_argument("--reorder", type=int, metavar="DEPTH",
                      help="hold a packet back until DEPTH later packets passed it")
    set_.add_argument("--reorder-prob", default="1%", help="share held back (default 1%%)")
    set_.add_argument("--duplicate", help="duplicate probability, e.g. 0.5%%")
    set_.add_argument("--corrupt", help="bit-flip probability, e.g. 0.1%%")
    set_.add_argument("--rate", help="link rate, e.g. 100mbit (tc units)")
    set_.add_argument("--limit", help="rate queue limit: packets (100) or bytes (64kb)")
    set_.add_argument("--drop-nth", type=int, metavar="N", help="drop the Nth matching packet")
    set_.add_argument("--match", help="which packets, e.g. 'tcp,from-dut,data'")
    set_.add_argument("--seed", type=int, default=0, help="run seed (same seed, same drops)")
    set_.add_argument("--direction", choices=("both", "to-dut", "to-bench"), default="both")
    set_.set_defaults(func=cmd_set)
    show = commands.add_parser("show", help="rules and counters")
    common(show)
    show.add_argument("--json", action="store_true", help="the raw reply")
    show.set_defaults(func=cmd_show)
    clear = commands.add_parser("clear", help="remove all rules (plain forwarding)")
    common(clear)
    clear.set_defaults(func=cmd_clear)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m bench.impair.cli impair show`) until the lead wires
    `register` into bench/cli.py."""
    parser = argparse.ArgumentParser(prog="hilbench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
