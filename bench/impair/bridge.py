"""The impairment bridge process: forwards frames between two interfaces through the
engine, one pipeline per direction.

    python -m bench.impair.bridge --netns hb-lan --a imp-b --b imp-d \\
        --control /run/hilbench/impair-hb-.sock --log run/impair.jsonl --rules rules.yaml

Side a faces the bench, side b the DUT: frames received on a go `to-dut` and leave on
b. One thread: a select() loop over both receive rings, the control socket and a heap
of delayed frames. Arrival times are the kernel's receive timestamps (CLOCK_REALTIME),
so release times are measured from when the frame really arrived.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import math
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bench.impair.control import PROTOCOL_VERSION, ControlServer
from bench.impair.eventlog import EventLog
from bench.impair.pipeline import Engine, Pipeline
from bench.impair.ring import (
    TP_STATUS_USER,
    TP_STATUS_VLAN_VALID,
    TPACKET2_HDR,
    RingPort,
    vlan_reinserted,
)
from bench.impair.rules import RuleSet, first_error, load_rules

BATCH_FRAMES = 256  # frames taken from one ring before looking at the other
WAKE_EARLY_NS = 1_000_000  # sleep until this close to a release time, then poll to it


class Bridge:
    """Two ring ports, the engine between them, and the control socket."""

    def __init__(self, port_a: RingPort, port_b: RingPort, rules: RuleSet,
                 log: EventLog, control_path: str | Path | None = None,
                 spin_us: int = 2000):
        self.ports = {"to-dut": (port_a, port_b), "to-bench": (port_b, port_a)}
        self.log = log
        self.engine = Engine(rules, log.packet)
        self.heap: list[tuple[int, int, RingPort, bytes]] = []
        self._order = itertools.count()
        self.running = True
        self.control = ControlServer(control_path, self.handle) if control_path else None
        self.started_ns = time.time_ns()
        # Keep polling the rings this long after the last frame before sleeping: a
        # wake-up from select() costs tens of us to ms on a busy host.
        self.spin_ns = spin_us * 1000

    # -- control -----------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request (see control.py for the protocol)."""
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "version": PROTOCOL_VERSION, "uptime_s":
                    round((time.time_ns() - self.started_ns) / 1e9, 3)}
        if op == "show":
            return {"ok": True, "rules": self.engine.rules.to_json(), **self.counters()}
        if op == "set":
            try:
                rules = load_rules(request.get("rules"))
            except Exception as exc:
                return {"ok": False, "error": first_error(exc)}
            return {"ok": True, "previous": self.swap(rules)}
        if op == "clear":
            return {"ok": True, "previous": self.swap(RuleSet())}
        if op == "stop":
            self.running = False
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r} (ping, set, show, clear, stop)"}

    def swap(self, rules: RuleSet) -> dict[str, Any]:
        """Install a new rule set; frames held by the old one are released, not lost."""
        old = self.engine
        now = time.time_ns()
        for direction, pipeline in old.pipelines.items():
            out = self.ports[direction][1]
            for frame, release in pipeline.due(math.inf):  # type: ignore[arg-type]
                self._schedule(out, frame, max(release, now))
        self.engine = Engine(rules, self.log.packet)
        self.log.event("rules", rules=rules.to_json())
        return old.counters()

    def counters(self) -> dict[str, Any]:
        a, b = self.ports["to-dut"]
        return {"ports": {a.ifname: a.counters(), b.ifname: b.counters()},
                "stages": self.engine.counters(), "queued": len(self.heap),
                "log_records": self.log.records}

    # -- forwarding ----------------------------------------------------------------
    def _schedule(self, port: RingPort, frame: bytes, release_ns: int) -> None:
        heapq.heappush(self.heap, (release_ns, next(self._order), port, frame))

    def _release_due(self, now_ns: int) -> None:
        heap = self.heap
        touched = set()
        while heap and heap[0][0] <= now_ns:
            _, _, port, frame = heapq.heappop(heap)
            port.send(frame)
            touched.add(port)
        for port in touched:
            port.flush()

    def _drain(self, pipeline: Pipeline, src: RingPort, dst: RingPort) -> int:
        """Forward up to BATCH_FRAMES frames waiting in `src`'s ring; the hot path."""
        ring, status, size, slots = src.ring, src.status, src.frame_size, src.frame_nr
        unpack = TPACKET2_HDR.unpack_from
        cursor = src.cursor
        send = dst.send
        passthrough = not pipeline.runs
        process = pipeline.process
        heap = self.heap
        count = 0
        while count < BATCH_FRAMES:
            offset = cursor * size
            word = offset >> 2
            if not status[word] & TP_STATUS_USER:
                break
            st, length, snaplen, mac, _net, sec, nsec, tci, tpid = unpack(ring, offset)
            frame = ring[offset + mac: offset + mac + snaplen]
            status[word] = 0  # slot back to the kernel
            cursor += 1
            if cursor == slots:
                cursor = 0
            count += 1
            if snaplen < length:
                src.truncated += 1
                continue
            if st & TP_STATUS_VLAN_VALID:
                frame = vlan_reinserted(frame, st, tci, tpid)
            if passthrough:
                send(frame)
                continue
            t_ns = sec * 1_000_000_000 + nsec
            for out, release_ns in process(frame, t_ns):
                if release_ns <= t_ns:
                    if heap and heap[0][0] <= release_ns:
                        dst.flush()
                        self._release_due(release_ns)
                    send(out)
                else:
                    heapq.heappush(heap, (release_ns, next(self._order), dst, out))
        src.cursor = cursor
        src.rx_frames += count
        dst.flush()
        return count

    def run(self) -> None:
        """Forward until a `stop` request or SIGTERM/SIGINT."""
        a, b = self.ports["to-dut"]
        self.log.event("start", a=a.ifname, b=b.ifname, rules=self.engine.rules.to_json())
        busy_rounds = 0
        last_busy_ns = 0
        while self.running:
            pipes = self.engine.pipelines
            busy = self._drain(pipes["to-dut"], a, b) + self._drain(pipes["to-bench"], b, a)
            now = time.time_ns()
            if self.heap and self.heap[0][0] <= now:
                self._release_due(now)
            for direction, pipeline in pipes.items():
                if pipeline.holds:
                    for frame, release in pipeline.due(now):
                        self._schedule(self.ports[direction][1], frame, release)
            if busy:
                last_busy_ns = now
            if now - last_busy_ns < self.spin_ns or (
                    self.heap and self.heap[0][0] - now < WAKE_EARLY_NS):
                busy_rounds += 1
                if busy_rounds % 256 == 0:  # stay controllable under sustained load
                    self.log.flush()
                    self._service_control(0.0)
                continue
            self.log.flush()
            self._wait(now)
        self.log.event("stop", counters=self.counters(), unsent=len(self.heap))

    def _wait(self, now_ns: int) -> None:
        deadlines = [self.heap[0][0]] if self.heap else []
        for pipeline in self.engine.pipelines.values():
            due = pipeline.next_due_ns()
            if due is not None:
                deadlines.append(due)
        timeout = 0.5
        if deadlines:
            timeout = max(0.0, (min(deadlines) - now_ns - WAKE_EARLY_NS / 2) / 1e9)
        self._service_control(min(timeout, 0.5), with_rings=True)

    def _service_control(self, timeout_s: float, with_rings: bool = False) -> None:
        """Wait up to `timeout_s` for frames (when `with_rings`) or control requests."""
        fds = [self.ports["to-dut"][0].fileno(), self.ports["to-dut"][1].fileno()]
        control = self.control.fds() if self.control else []
        ready, _, _ = select.select((fds if with_rings else []) + control, [], [], timeout_s)
        if self.control and ready:
            self.control.service([fd for fd in ready if fd in control])

    def close(self) -> None:
        if self.control:
            self.control.close()
        for port in self.ports["to-dut"]:
            port.close()
        self.log.close()


def read_rules_file(path: str | None) -> RuleSet:
    """A rule file in YAML or JSON (JSON is YAML); no file means no impairment."""
    if not path:
        return RuleSet()
    return load_rules(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.impair.bridge",
                                     description="Impairment bridge between two interfaces.")
    parser.add_argument("--netns", help="network namespace holding both interfaces")
    parser.add_argument("--a", required=True, help="interface facing the bench")
    parser.add_argument("--b", required=True, help="interface facing the DUT")
    parser.add_argument("--control", help="unix socket path for run-time control")
    parser.add_argument("--log", help="JSON-lines impairment log (evidence)")
    parser.add_argument("--rules", help="rule file (YAML or JSON)")
    parser.add_argument("--mtu", type=int, default=1500)
    parser.add_argument("--ring-frames", type=int, default=4096)
    parser.add_argument("--tx", choices=("ring", "send"), default="send",
                        help="transmit through a TX ring (batched) or one send() per frame")
    parser.add_argument("--realtime", type=int, default=0, metavar="PRIO",
                        help="SCHED_FIFO priority (1-99) so other tasks cannot delay frames")
    parser.add_argument("--spin-us", type=int, default=2000,
                        help="poll without sleeping this long after traffic (latency)")
    args = parser.parse_args(argv)
    try:
        rules = read_rules_file(args.rules)
    except Exception as exc:
        print(f"impair bridge: {args.rules}: {first_error(exc)}", file=sys.stderr)
        return 2
    if args.netns:
        from bench.lab import netns

        netns.enter(args.netns)
    log = EventLog(args.log)
    try:
        port_a = RingPort(args.a, args.mtu, args.ring_frames, tx_ring=args.tx == "ring")
        port_b = RingPort(args.b, args.mtu, args.ring_frames, tx_ring=args.tx == "ring")
        bridge = Bridge(port_a, port_b, rules, log, args.control, args.spin_us)
    except OSError as exc:
        print(f"impair bridge: cannot open {args.a}/{args.b}: {exc}", file=sys.stderr)
        return 1

    def stop(_signum: int, _frame: object) -> None:
        bridge.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.realtime))
    gc.freeze()  # the hot path allocates no cycles; keep the collector off startup objects
    try:
        bridge.run()
    finally:
        bridge.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
