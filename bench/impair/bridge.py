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

from bench.impair import sched
from bench.impair.control import PROTOCOL_VERSION, ControlServer
from bench.impair.eventlog import EventLog
from bench.impair.pipeline import Engine, Pipeline
from bench.impair.ring import (
    TP_STATUS_AVAILABLE,
    TP_STATUS_SEND_REQUEST,
    TP_STATUS_USER,
    TP_STATUS_VLAN_VALID,
    TPACKET2_HDR,
    TX_DATA_OFFSET,
    RingPort,
    vlan_reinserted,
)
from bench.impair.rules import RuleSet, first_error, load_rules

BATCH_FRAMES = 256  # frames taken from one ring before looking at the other
YIELD_PERIOD_NS = 1_000_000  # a polling real-time bridge yields its core this often
TX_BATCH = 64  # frames written to a TX ring before handing them to the kernel
WAKE_EARLY_NS = 1_000_000  # sleep until this close to a release time, then poll to it


class Bridge:
    """Two ring ports, the engine between them, and the control socket."""

    def __init__(self, port_a: RingPort, port_b: RingPort, rules: RuleSet,
                 log: EventLog, control_path: str | Path | None = None,
                 spin_us: int = 2000, yield_us: int = 0):
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
        # A real-time bridge that polls must still leave its core now and then, or the
        # kernel's fair server takes it away for ~50 ms a second at once: every
        # YIELD_PERIOD_NS of polling it waits up to `yield_us` for a frame instead.
        self.yield_s = yield_us / 1e6

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

    def _drain_direct(self, pipeline: Pipeline, src: RingPort, dst: RingPort) -> int:
        """Forward up to BATCH_FRAMES frames of a drop-only pipeline; the hot path.

        A frame goes from `src`'s receive ring straight into `dst`'s transmit ring (or
        to send()) through memoryviews: no bytes object, no header parsing unless a
        stage matches on headers, one send() per TX_BATCH frames."""
        words, view = src.status, src.view
        slot_words, slots, cursor = src.frame_size >> 2, src.frame_nr, src.cursor
        drops = pipeline.drops if pipeline.runs else None
        # frames promised to pass every stage: forwarded without asking the pipeline
        plain = drops is not None and pipeline.plain  # else clear_run() is always 0
        clear = pipeline.clear_run(BATCH_FRAMES) if plain else 0
        passed = 0
        tx_ring = dst.tx_ring
        tx_words, tx_view, send = dst.status, dst.view, dst.sock.send
        tx_slot_words, tx_base, tx_nr = dst.frame_size >> 2, dst.tx_base >> 2, dst.tx_nr
        tx_cursor, max_frame = dst.tx_cursor, dst.max_frame
        count = pending = 0
        while count < BATCH_FRAMES:
            word = cursor * slot_words
            status = words[word]
            if not status & TP_STATUS_USER:
                break
            count += 1
            snaplen = words[word + 2]
            start = (word << 2) + (words[word + 3] & 0xFFFF)
            end = start + snaplen
            if status & TP_STATUS_VLAN_VALID or snaplen < words[word + 1]:
                if passed:
                    pipeline.passed(passed)
                    passed = 0
                clear = 0
                dst.tx_cursor, dst.tx_pending = tx_cursor, dst.tx_pending + pending
                pending = 0
                self._forward_odd(pipeline, src, dst, word)
                tx_cursor = dst.tx_cursor
                forward = False
            elif clear:
                clear -= 1
                passed += 1
                forward = True
            elif drops is None:
                forward = True
            else:
                if passed:
                    pipeline.passed(passed)
                    passed = 0
                forward = not drops(view, start, end,
                                    words[word + 4] * 1_000_000_000 + words[word + 5])
                if plain:
                    clear = pipeline.clear_run(BATCH_FRAMES)
            if not forward:
                pass
            elif tx_ring:
                tx_word = tx_base + tx_cursor * tx_slot_words
                if tx_words[tx_word] != TP_STATUS_AVAILABLE or snaplen > max_frame:
                    dst.tx_cursor, dst.tx_pending = tx_cursor, dst.tx_pending + pending
                    pending = 0
                    dst.send_copy(view[start:end])
                    tx_cursor = dst.tx_cursor
                else:
                    data = (tx_word << 2) + TX_DATA_OFFSET
                    tx_view[data:data + snaplen] = view[start:end]
                    tx_words[tx_word + 1] = snaplen
                    tx_words[tx_word] = TP_STATUS_SEND_REQUEST
                    tx_cursor += 1
                    if tx_cursor == tx_nr:
                        tx_cursor = 0
                    pending += 1
                    if pending == TX_BATCH:
                        dst.tx_cursor, dst.tx_pending = tx_cursor, dst.tx_pending + pending
                        pending = 0
                        dst.flush()
            else:
                try:
                    send(view[start:end])
                    dst.tx_frames += 1
                except OSError:
                    dst.tx_errors += 1
            words[word] = 0  # slot back to the kernel
            cursor += 1
            if cursor == slots:
                cursor = 0
        if passed:
            pipeline.passed(passed)
        src.cursor = cursor
        src.rx_frames += count
        dst.tx_cursor, dst.tx_pending = tx_cursor, dst.tx_pending + pending
        dst.flush()
        return count

    def _forward_odd(self, pipeline: Pipeline, src: RingPort, dst: RingPort,
                     word: int) -> None:
        """A truncated or VLAN-tagged frame, outside the fast loop (rare)."""
        st, length, snaplen, mac, _net, sec, nsec, tci, tpid = TPACKET2_HDR.unpack_from(
            src.ring, word << 2)
        if snaplen < length:
            src.truncated += 1
            return
        start = (word << 2) + mac
        frame = vlan_reinserted(src.ring[start:start + snaplen], st, tci, tpid)
        t_ns = sec * 1_000_000_000 + nsec
        for out, _release in pipeline.process(frame, t_ns):
            dst.send(out)

    def _drain(self, pipeline: Pipeline, src: RingPort, dst: RingPort) -> int:
        """Forward up to BATCH_FRAMES frames waiting in `src`'s ring (any pipeline)."""
        if pipeline.drop_only and not self.heap:
            return self._drain_direct(pipeline, src, dst)
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
        last_busy_ns = last_yield_ns = 0
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
                if self.yield_s and now - last_yield_ns >= YIELD_PERIOD_NS:
                    wait = self.yield_s
                    if self.heap:  # never late for a delayed frame
                        wait = min(wait, max(0.0, (self.heap[0][0] - now) / 1e9))
                    self._service_control(wait)  # a timer wake-up: no IPI
                    last_yield_ns = time.time_ns()
                elif busy_rounds % 256 == 0:  # stay controllable under sustained load
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
    parser.add_argument("--nice", type=int, default=0,
                        help="nice value (-20 .. 19): a polling bridge at -20 keeps its core "
                             "against normal tasks without real-time throttling")
    parser.add_argument("--yield-us", type=int, default=None,
                        help="while polling, wait this long for a frame once a ms so other "
                             "tasks keep the core (default: 100 with --realtime, else 0)")
    parser.add_argument("--deadline", metavar="RUNTIME_US:PERIOD_US",
                        help="SCHED_DEADLINE reservation, e.g. 950:1000 (do not pin the "
                             "bridge to a CPU: the kernel refuses it for pinned tasks)")
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
        bridge = Bridge(port_a, port_b, rules, log, args.control, args.spin_us,
                        args.yield_us if args.yield_us is not None else
                        (100 if args.realtime else 0))
    except OSError as exc:
        print(f"impair bridge: cannot open {args.a}/{args.b}: {exc}", file=sys.stderr)
        return 1

    def stop(_signum: int, _frame: object) -> None:
        bridge.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if args.nice:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        if args.realtime:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.realtime))
        if args.deadline:
            sched.set_deadline(*sched.parse_reservation(args.deadline))
    except (OSError, ValueError) as exc:
        print(f"impair bridge: {exc}", file=sys.stderr)
        bridge.close()
        return 2
    gc.freeze()  # the hot path allocates no cycles; keep the collector off startup objects
    try:
        bridge.run()
    finally:
        bridge.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
