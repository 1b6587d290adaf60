"""The impairment engine: one pipeline per direction, no I/O of its own.

`Pipeline.process(frame, t_ns)` takes a frame and its arrival time and returns the
frames to send with their release times; the bridge process and a single-NIC reference
peer both drive it from their own I/O loops. Stages are built from rule data
(`rules.Stage`) by the action classes registered in `actions.py`; the loop below is
the same for every kind of stage.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from bench.impair import packet
from bench.impair.actions import ACTIONS, Packet
from bench.impair.rules import (
    TCP_FLAG_BITS,
    Direction,
    Match,
    RuleSet,
    SelectAll,
    SelectGilbert,
    SelectRandom,
    Stage,
)

EventSink = Callable[[dict[str, Any]], None]
Release = tuple[bytes, int]


def stage_seed(run_seed: int, direction: str, index: int) -> int:
    """A stage's own seed: the same run seed always gives each stage the same stream."""
    digest = hashlib.sha256(f"{run_seed}/{direction}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def compile_match(match: Match) -> Callable[[packet.Headers], bool] | None:
    """A predicate for `match` (without nth), or None when it matches everything."""
    checks: list[Callable[[packet.Headers], bool]] = []
    proto = {"tcp": packet.IPPROTO_TCP, "udp": packet.IPPROTO_UDP,
             "icmp": packet.IPPROTO_ICMP}.get(match.proto)
    if proto is not None:
        checks.append(lambda h: h.proto == proto)
    elif match.proto == "ip":
        checks.append(lambda h: h.proto != 0)
    for attr, net in (("src_ip", match.src_net), ("dst_ip", match.dst_net)):
        if net is not None:
            base, mask = int(net.network_address), int(net.netmask)
            checks.append(lambda h, a=attr, b=base, m=mask: getattr(h, a) & m == b)
    for attr, ports in (("src_port", match.src_port), ("dst_port", match.dst_port)):
        if ports is not None:
            checks.append(lambda h, a=attr, lo=ports.low, hi=ports.high:
                          lo <= getattr(h, a) <= hi and h.proto in (6, 17))
    if match.tcp_flags_set or match.tcp_flags_clear:
        need = sum(packet_bits(match.tcp_flags_set))
        refuse = sum(packet_bits(match.tcp_flags_clear))
        checks.append(lambda h: h.proto == packet.IPPROTO_TCP
                      and h.tcp_flags & need == need and not h.tcp_flags & refuse)
    low, high = match.payload_min_bytes, match.payload_max_bytes
    if low or high is not None:
        top = high if high is not None else 1 << 31
        checks.append(lambda h: low <= h.payload_bytes <= top)
    if match.seq_min is not None or match.seq_max is not None:
        smin = match.seq_min or 0
        smax = match.seq_max if match.seq_max is not None else 0xFFFFFFFF
        checks.append(lambda h: h.proto == packet.IPPROTO_TCP and smin <= h.seq <= smax)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda h: all(check(h) for check in checks)


def packet_bits(letters: str) -> list[int]:
    return [TCP_FLAG_BITS[letter] for letter in letters]


class Selector:
    """Decides which matched packets a stage acts on (all, random, Gilbert-Elliott).

    `chosen()` is asked once per matched packet. `clear_run()` draws decisions ahead
    from the same random stream, in the same order, so a fast path can let a run of
    unchosen packets through without asking; the choices are exactly the same."""

    def __init__(self, spec: SelectAll | SelectRandom | SelectGilbert, rng: random.Random):
        self.spec = spec
        self.rng = rng
        self.bad = False  # Gilbert-Elliott state
        self._ahead: list[bool] = []  # decisions drawn in advance, next at _pos
        self._pos = 0
        if spec.kind == "random":
            rnd, probability = rng.random, spec.probability
            self._step = lambda: rnd() < probability
        else:
            self._step = self._draw

    def chosen(self) -> bool:
        if self._pos < len(self._ahead):
            self._pos += 1
            return self._ahead[self._pos - 1]
        return self._step()

    def clear_run(self, horizon: int) -> int:
        """How many of the next matched packets are certainly not chosen (<= horizon)."""
        if self.spec.kind == "all":
            return 0
        while True:
            try:
                return min(self._ahead.index(True, self._pos) - self._pos, horizon)
            except ValueError:
                pending = len(self._ahead) - self._pos
                if pending >= horizon:
                    return horizon
                step = self._step
                self._ahead = self._ahead[self._pos:] + [step() for _ in range(horizon)]
                self._pos = 0

    def skip(self, count: int) -> None:
        """`count` matched packets passed unchosen, as `clear_run()` promised."""
        self._pos += count

    def _draw(self) -> bool:
        spec = self.spec
        if spec.kind == "all":
            return True
        if spec.kind == "random":
            return self.rng.random() < spec.probability
        rnd = self.rng.random
        if self.bad:
            if rnd() < spec.r:
                self.bad = False
        elif rnd() < spec.p:
            self.bad = True
        if self.bad:
            return spec.h == 0.0 or rnd() >= spec.h
        return spec.k != 1.0 and rnd() >= spec.k


class StageRun:
    """A stage at run time: its compiled match, selector, action state and counters."""

    def __init__(self, stage: Stage, label: str, rng: random.Random):
        self.stage = stage
        self.label = label
        self.match = compile_match(stage.match)
        self.nth = stage.match.nth
        self.selector = Selector(stage.select, rng)
        self.always = stage.select.kind == "all"
        self.action = ACTIONS[stage.action.kind](stage.action, rng)
        self.counters: dict[str, int] = {"seen": 0, "matched": 0}
        self.log_drops = stage.log in ("all", "drops")
        self.log_all = stage.log == "all"


class Pipeline:
    """One direction's ordered stages."""

    def __init__(self, stages: list[Stage], direction: Direction, seed: int = 0,
                 sink: EventSink | None = None):
        self.direction = direction
        self.sink = sink
        self.frames = 0  # frame index in this direction, 1-based in the log
        self.runs = [StageRun(stage, stage.label(i), random.Random(stage_seed(seed, direction, i)))
                     for i, stage in enumerate(stages)]
        self._parse = any(stage.match.needs_headers() or stage.action.kind == "corrupt"
                          for stage in stages)
        self.holds = [run for run in self.runs if run.action.holds]
        # Only drop stages: a frame is either forwarded unchanged or not at all, so an
        # I/O loop can ask `drops()` and forward straight from its receive buffer.
        self.drop_only = all(run.stage.action.kind == "drop" for run in self.runs)
        # ...and no stage looks at headers: runs of frames can pass without a look
        self.plain = self.drop_only and all(run.match is None for run in self.runs)

    @classmethod
    def from_rules(cls, rules: RuleSet, direction: Direction,
                   sink: EventSink | None = None) -> Pipeline:
        return cls(rules.stages(direction), direction, rules.seed, sink)

    def process(self, frame: bytes, t_ns: int) -> list[Release]:
        """Frames to send for one arriving frame, each with its release time (ns)."""
        self.frames += 1
        if not self.runs:
            return [(frame, t_ns)]
        headers = packet.parse(frame) if self._parse else None
        batch = [Packet(frame, t_ns, t_ns, self.frames, headers)]
        for run in self.runs:
            batch = self._run_stage(run, batch)
            if not batch:
                return []
        return [(pkt.frame, pkt.release_ns) for pkt in batch]

    def drops(self, view: Any, start: int, end: int, t_ns: int) -> bool:
        """`process()` for a `drop_only` pipeline, without copying the frame: True when
        the frame `view[start:end]` is dropped. Same counters, log and random draws."""
        self.frames += 1
        headers = None
        for run in self.runs:
            counters = run.counters
            counters["seen"] += 1
            if run.match is not None:
                if headers is None:
                    headers = packet.parse(view[start:end])
                if not run.match(headers):
                    continue
            counters["matched"] += 1
            if run.nth is not None and counters["matched"] != run.nth:
                continue
            if not (run.always or run.selector.chosen()):
                continue
            counters["dropped"] = counters.get("dropped", 0) + 1
            if self.sink is not None and run.log_drops:
                if headers is None:
                    headers = packet.parse(view[start:end])
                self._log(run, Packet(b"", t_ns, t_ns, self.frames, headers), "dropped", None)
            return True
        return False

    def clear_run(self, horizon: int) -> int:
        """How many of the next frames certainly pass every stage untouched (a `plain`
        pipeline only; else 0). The caller forwards them and reports `passed(n)`."""
        if not self.plain:
            return 0
        count = horizon
        for run in self.runs:
            matched = run.counters["matched"]
            if run.nth is not None:
                if matched < run.nth:  # the selector is asked only at the nth packet
                    count = min(count, run.nth - matched - 1)
            elif run.always:
                return 0
            else:
                count = run.selector.clear_run(count)
            if count == 0:
                return 0
        return count

    def passed(self, count: int) -> None:
        """Account for `count` frames forwarded under a `clear_run()` promise."""
        self.frames += count
        for run in self.runs:
            counters = run.counters
            counters["seen"] += count
            counters["matched"] += count
            if run.nth is None:
                run.selector.skip(count)

    def _run_stage(self, run: StageRun, batch: list[Packet]) -> list[Packet]:
        out: list[Packet] = []
        for pkt in batch:
            run.counters["seen"] += 1
            released = run.action.arrival(pkt) if run.action.holds else ()
            if run.match is not None:
                if pkt.headers is None:
                    pkt.headers = packet.parse(pkt.frame)
                if not run.match(pkt.headers):
                    out.append(pkt)
                    out.extend(released)
                    continue
            run.counters["matched"] += 1
            if run.nth is not None and run.counters["matched"] != run.nth:
                out.append(pkt)
                out.extend(released)
                continue
            if not (run.always or run.selector.chosen()):
                out.append(pkt)
                out.extend(released)
                continue
            result, event, detail = run.action.act(pkt)
            run.counters[event] = run.counters.get(event, 0) + 1
            if self.sink is not None and (run.log_all or (run.log_drops and not result)):
                self._log(run, pkt, event, detail)
            out.extend(result)
            out.extend(released)
        return out

    def _log(self, run: StageRun, pkt: Packet, event: str, detail: dict | None) -> None:
        h = pkt.headers if pkt.headers is not None else packet.parse(pkt.frame)
        record: dict[str, Any] = {
            "t_ns": pkt.arrival_ns, "dir": self.direction, "frame": pkt.index,
            "proto": h.proto, "ip_id": h.ip_id, "src_port": h.src_port,
            "dst_port": h.dst_port, "seq": h.seq, "flags": packet.flag_letters(h.tcp_flags),
            "len": h.payload_bytes, "rule": run.label, "action": event}
        if detail:
            record.update(detail)
        self.sink(record)  # type: ignore[misc]

    def next_due_ns(self) -> int | None:
        """When a held packet (reorder) must be released even without more traffic."""
        times = [t for run in self.holds if (t := run.action.next_due_ns()) is not None]
        return min(times) if times else None

    def due(self, now_ns: int) -> list[Release]:
        """Held packets whose hold time expired, to send at `now_ns` or later."""
        out: list[Release] = []
        for run in self.holds:
            for pkt in run.action.expire(now_ns):
                run.counters["hold-expired"] = run.counters.get("hold-expired", 0) + 1
                out.append((pkt.frame, max(pkt.release_ns, now_ns)))
        return out

    def counters(self) -> dict[str, Any]:
        return {"frames": self.frames,
                "stages": [{"rule": run.label, "kind": run.stage.action.kind, **run.counters}
                           for run in self.runs]}


class Engine:
    """Both directions of one rule set, sharing an event sink."""

    def __init__(self, rules: RuleSet, sink: EventSink | None = None):
        self.rules = rules
        self.pipelines: dict[str, Pipeline] = {
            d: Pipeline.from_rules(rules, d, sink) for d in ("to-dut", "to-bench")}

    def counters(self) -> dict[str, Any]:
        return {d: p.counters() for d, p in self.pipelines.items()}
