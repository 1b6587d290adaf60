"""`hilbench`: the bench's command line.

Each part that has commands adds them through a `register(subparsers)` function, so this
file only wires parts together. Every expected failure ends as one line on stderr and a
non-zero exit; a traceback is shown only with --debug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from bench.inventory import DEFAULT_PATH, Inventory, InventoryError, load

EXIT_USAGE = 2


class CliError(Exception):
    """An expected failure: printed as one line, exit code `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def inventory_from(args: argparse.Namespace) -> Inventory:
    return load(args.inventory)


def duts_named(inv: Inventory, names: list[str] | None) -> list[str]:
    """The inventory DUTs a command names (all of them when it names none); an unknown
    name is a one-line error listing the known ones."""
    for name in names or []:
        try:
            inv.dut(name)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
    return list(names) if names else [d.name for d in inv.duts]


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise CliError(f"{what} needs root (CAP_NET_ADMIN) to build network namespaces; "
                       "run it with sudo")


# -- inventory ---------------------------------------------------------------------------
def cmd_inventory_check(args: argparse.Namespace) -> int:
    inv = load(args.file or args.inventory)
    rows = [("DUT", "kind", "adapter", "address", "mac", "mtu", "profile", "console")]
    for d in inv.duts:
        rows.append((d.name, d.kind.value, d.adapter, str(d.link.address), d.link.mac,
                     str(d.link.mtu), d.profile, d.console.url or "(lab)"))
    print_table(rows)
    print(f"bench: {inv.bench.address} ({inv.bench.mac}); reference peer "
          f"{inv.bench.peer.address} ({inv.bench.peer.mac}); impairment "
          f"{inv.impairment.kind.value}; lab {inv.lab.mode.value}, prefix {inv.lab.prefix}, "
          f"ranges {', '.join(map(str, inv.lab.allowed_ranges))}")
    return 0


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- lab ---------------------------------------------------------------------------------
def cmd_lab_up(args: argparse.Namespace) -> int:
    from bench.lab.down import down
    from bench.lab.up import up

    require_root("hilbench lab up")
    inv = inventory_from(args)
    try:
        up(inv, only=args.dut or None)
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        down(inv, say=lambda line: None)
        raise CliError(f"lab up failed: {reason} (the partial lab was torn down)") from None
    print("lab is up")
    return 0


def cmd_lab_down(args: argparse.Namespace) -> int:
    from bench.lab.down import down

    require_root("hilbench lab down")
    removed = down(inventory_from(args))
    print(f"lab is down ({removed} objects removed)")
    return 0


def cmd_lab_status(args: argparse.Namespace) -> int:
    from bench.lab.status import status

    require_root("hilbench lab status")
    st = status(inventory_from(args), check_consoles=not args.no_consoles)
    if not st.up:
        print("lab is down")
        return 3
    for ns, names in st.namespaces.items():
        print(f"namespace {ns}: {', '.join(names)}")
    for role, dut, pid, alive in st.processes:
        print(f"process {role:7} {dut:14} pid {pid:<7} {'running' if alive else 'GONE'}")
    for health in st.duts:
        mark = "ok  " if health.healthy else "FAIL"
        print(f"dut {mark} {health.name:14} {health.console:26} {health.answer}")
    dead = [p for p in st.processes if not p[3]]
    return 1 if dead or any(not h.healthy for h in st.duts) else 0


# -- dut ---------------------------------------------------------------------------------
DUT_COMMANDS = ("hello", "consts", "link", "conns", "counters", "stat", "reboot", "raw")


def cmd_dut(args: argparse.Namespace) -> int:
    from bench.lab.access import DutSession

    inv = inventory_from(args)
    duts_named(inv, [args.name])
    log_dir = Path(args.log_dir) if args.log_dir else None
    with DutSession(inv, args.name, log_dir, timeout_s=args.timeout) as dut:
        if args.command == "hello":
            h = dut.hello()
            print(f"{args.name}: {h.name} stack={h.stack} build={h.build} proto={h.proto}")
        elif args.command in ("consts", "link", "counters"):
            for key, value in getattr(dut, args.command)().items():
                print(f"{key:28} {value}")
        elif args.command == "stat":
            if not args.args:
                raise CliError("hilbench dut NAME stat needs a connection id")
            for key, value in dut.stat(int(args.args[0])).items():
                print(f"{key:14} {value}")
        elif args.command == "conns":
            rows = [("id", "state", "local", "remote", "details")]
            for c in dut.conns():
                details = " ".join(f"{k}={v}" for k, v in c.extra.items())
                rows.append((str(c.id), c.state, c.local, c.remote, details))
            print_table(rows)
        elif args.command == "reboot":
            h = dut.reboot()
            print(f"{args.name}: rebooted, build={h.build}")
        elif args.command == "raw":
            if not args.args:
                raise CliError("hilbench dut NAME raw needs a request, e.g. raw listen 5001")
            fields, data = dut.request(args.args[0], *args.args[1:])  # type: ignore[attr-defined]
            for row in data:
                print("- " + " ".join(f"{k}={v}" for k, v in row.items()))
            print("OK " + " ".join(f"{k}={v}" for k, v in fields.items()))
    return 0


# -- wiring ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hilbench",
        description="Hardware-in-the-loop TCP bench: measures how a DUT's TCP stack behaves "
        "against a reference model, on an emulated or real lab.",
    )
    parser.add_argument("-i", "--inventory", default=str(DEFAULT_PATH),
                        help="inventory file (default: %(default)s)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)

    inv = sub.add_parser("inventory", help="validate the lab inventory")
    inv_sub = inv.add_subparsers(dest="action", required=True)
    check = inv_sub.add_parser("check", help="print what the inventory describes, or every "
                               "problem with its YAML path (exit 2)")
    check.add_argument("file", nargs="?", help="inventory file (default: --inventory)")
    check.set_defaults(func=cmd_inventory_check)

    lab = sub.add_parser("lab", help="build, inspect and remove the emulated lab (root)")
    lab_sub = lab.add_subparsers(dest="action", required=True)
    p = lab_sub.add_parser("up", help="build namespaces, links, DUTs and consoles; "
                           "harmless when already up")
    p.add_argument("--dut", action="append", help="start only this simulated DUT (repeatable)")
    p.set_defaults(func=cmd_lab_up)
    p = lab_sub.add_parser("down", help="remove everything the bench made, also after a crash")
    p.set_defaults(func=cmd_lab_down)
    p = lab_sub.add_parser("status", help="namespaces, interfaces, processes and DUT health "
                           "(exit 0 healthy, 1 unhealthy, 3 down)")
    p.add_argument("--no-consoles", action="store_true", help="skip the console health check")
    p.set_defaults(func=cmd_lab_status)

    dut = sub.add_parser("dut", help="talk to a DUT by its inventory name")
    dut.add_argument("name", help="DUT name from the inventory")
    dut.add_argument("command", choices=DUT_COMMANDS,
                     help="hello, consts, link, conns, counters, stat ID, reboot, "
                     "or raw REQUEST... (any protocol v1 request)")
    dut.add_argument("args", nargs="*", help="arguments of the command")
    dut.add_argument("--timeout", type=float, default=3.0, help="reply timeout in s")
    dut.add_argument("--log-dir", help="write the console log of this session here")
    dut.set_defaults(func=cmd_dut)

    for register in extra_registrations():
        register(sub)
    return parser


def extra_registrations() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Commands contributed by other parts (impairment, measurements, runs, reports)."""
    found = []
    for module in ("bench.impair.cli", "bench.measure.cli", "bench.robot.cli",
                   "bench.report.cli", "bench.nightly"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        found.append(mod.register)
    return found


def main(argv: list[str] | None = None) -> int:
    from firmware_adapters.errors import DutError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InventoryError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except (CliError, DutError) as exc:
        if args.debug:
            raise
        print(f"hilbench: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    except KeyboardInterrupt:
        print("hilbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place a surprise becomes a line, not a traceback
        if args.debug:
            raise
        print(f"hilbench: unexpected {type(exc).__name__}: {exc} (rerun with --debug for "
              "the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # `python -m bench.cli`: run the imported module's main, so the CliError that the
    # command modules raise (bench.cli.CliError) is the one main catches
    from bench.cli import main as bench_main

    sys.exit(bench_main())
