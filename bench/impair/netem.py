"""The netem driver: the same rule model, applied with `tc qdisc ... netem`.

For labs whose kernel has sch_netem. netem impairs a whole interface's egress, so only
rules it can express exactly are translated (no matching, no scripted Nth drop, no
order-keeping jitter, no reorder depth); anything else is refused with one line saying
which stage and why, rather than approximated silently.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.impair.rules import Direction, Match, RuleSet, Stage

SYS_MODULE = Path("/sys/module/sch_netem")


class NetemUnsupported(ValueError):
    """A rule that netem cannot express; the message names the stage."""


class NetemMissing(RuntimeError):
    """The kernel has no sch_netem."""


def _pct(probability: float) -> str:
    return f"{probability * 100:.6g}%"


def _stage_args(stage: Stage, label: str) -> tuple[str, list[str]]:
    """(netem option, its arguments) for one stage."""
    if stage.match != Match():
        raise NetemUnsupported(f"{label}: netem cannot match packets (match: ...); "
                               "use the impairment bridge")
    action, select = stage.action, stage.select
    if action.kind == "drop":
        if select.kind == "all":
            return "loss", ["loss", "random", "100%"]
        if select.kind == "random":
            return "loss", ["loss", "random", _pct(select.probability)]
        return "loss", ["loss", "gemodel", _pct(select.p), _pct(select.r),
                        _pct(1 - select.h), _pct(1 - select.k)]
    if select.kind == "gilbert":
        raise NetemUnsupported(f"{label}: netem applies Gilbert-Elliott only to loss")
    probability = select.probability if select.kind == "random" else 1.0
    if action.kind in ("duplicate", "corrupt"):
        if action.kind == "duplicate" and action.copies != 1:
            raise NetemUnsupported(f"{label}: netem duplicates a packet once (copies: 1)")
        if action.kind == "corrupt" and action.where != "any":
            raise NetemUnsupported(f"{label}: netem cannot choose where to corrupt")
        return action.kind, [action.kind, _pct(probability)]
    if probability != 1.0:
        raise NetemUnsupported(f"{label}: netem applies {action.kind} to every packet "
                               "(select: all)")
    if action.kind == "delay":
        if action.jitter_ms and not action.reorder:
            raise NetemUnsupported(f"{label}: netem reorders packets when jitter is set; "
                                   "say reorder: true to accept that")
        args = ["delay", f"{action.delay_ms:g}ms"]
        if action.jitter_ms:
            args.append(f"{action.jitter_ms:g}ms")
            if action.distribution == "normal":
                args += ["distribution", "normal"]
        return "delay", args
    if action.kind == "rate":
        if action.burst_bytes or action.limit_bytes is not None:
            raise NetemUnsupported(f"{label}: netem's rate has no burst or byte limit")
        args = ["rate", f"{action.rate_bps}bit"]
        if action.limit_packets is not None:
            args += ["limit", str(action.limit_packets)]
        return "rate", args
    raise NetemUnsupported(f"{label}: netem has no {action.kind} with these semantics "
                           "(its reorder is not a depth); use the impairment bridge")


def netem_args(rules: RuleSet, direction: Direction) -> list[str]:
    """The netem arguments for one direction (empty when it has no stages)."""
    args: list[str] = []
    used: set[str] = set()
    for index, stage in enumerate(rules.stages(direction)):
        label = f"{direction}.{stage.label(index)}"
        option, stage_args = _stage_args(stage, label)
        if option in used:
            raise NetemUnsupported(f"{label}: netem has one {option} per interface")
        used.add(option)
        args += stage_args
    if args and rules.seed:
        args += ["seed", str(rules.seed)]
    return args


def tc_commands(rules: RuleSet, egress: dict[Direction, str]) -> list[list[str]]:
    """tc command lines: netem on the interface each direction leaves through
    (`egress["to-dut"]` faces the DUT). A direction without stages gets its qdisc
    removed, so applying a rule set is idempotent."""
    commands = []
    for direction, ifname in egress.items():
        args = netem_args(rules, direction)
        if args:
            commands.append(["tc", "qdisc", "replace", "dev", ifname, "root", "netem", *args])
        else:
            commands.append(["tc", "qdisc", "del", "dev", ifname, "root"])
    return commands


def netem_available(probe_ns: str | None = None) -> bool:
    """True when the kernel has sch_netem: loaded, or loadable onto a scratch veth
    inside `probe_ns` (created and removed here) when one is given."""
    if SYS_MODULE.exists():
        return True
    if probe_ns is None:
        return False
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    from bench.lab import netns

    netns.create(probe_ns)
    try:
        with IPRoute(netns=probe_ns) as ipr:
            ipr.link("add", ifname="probe0", kind="veth", peer={"ifname": "probe1"})
        proc = netns.popen_in(probe_ns, ["tc", "qdisc", "add", "dev", "probe0", "root",
                                         "netem", "delay", "1ms"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc.wait(timeout=10) == 0
    except (OSError, subprocess.SubprocessError, NetlinkError):
        return False
    finally:
        netns.remove(probe_ns)


def require_netem(probe_ns: str | None = None) -> None:
    """Refuse, in one line, when netem cannot be used here."""
    if not netem_available(probe_ns):
        raise NetemMissing("netem impairment unavailable: this kernel has no sch_netem "
                           "(use impairment kind 'bridge')")


def apply(rules: RuleSet, ns: str, egress: dict[Direction, str],
          probe_ns: str | None = None) -> None:
    """Translate (refusing what netem cannot do) and install in namespace `ns`."""
    commands = tc_commands(rules, egress)
    require_netem(probe_ns)
    from bench.lab import netns

    for command in commands:
        proc = netns.popen_in(ns, command, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=10)
        if proc.returncode != 0 and command[2] != "del":
            raise RuntimeError(f"{' '.join(command)}: {err.strip()}")
