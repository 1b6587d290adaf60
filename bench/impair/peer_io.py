"""The impairment engine inside the reference peer's own I/O, for a lab with one NIC.

Without room for a bridge between the bench and the DUT, the peer applies the same rule
set to its own traffic: `to-dut` stages to every TCP segment it sends, `to-bench` stages
to every frame it receives. `Peer` calls `outgoing()` and `arrivals()` (its `impair`
hook); frames the stages delay or hold are sent or delivered later by a timer on the
peer's own I/O loop, under its lock. The log and counters are the bridge's.

What differs from the bridge, by construction: received frames are in the peer's pcap
before the stages see them (they were on the wire; a dropped one never reaches a TCB),
and sent frames reach the pcap when they really leave (a dropped one never does). ARP
and hand-made UDP/ICMP (`send_ip`) bypass the stages.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.impair.eventlog import EventLog
from bench.impair.pipeline import Engine, Pipeline
from bench.impair.rules import RuleSet
from bench.model.peer import Peer
from bench.model.segment import Segment, parse_frame
from bench.wire import RxFrame

WireOut = Callable[[Segment, bytes], Segment]
Deliver = Callable[[list[RxFrame]], None]


class PeerImpairment:
    """One rule set applied in a peer's I/O; `install()` / `remove()` switch it."""

    def __init__(self, peer: Peer, rules: RuleSet, log: str | Path | None = None):
        self.peer = peer
        self.log = EventLog(log)
        self.engine = Engine(rules, self.log.packet)
        self._wire_out: WireOut | None = None
        self._deliver: Deliver | None = None
        self._armed_ns: dict[str, int] = {}  # per direction: the hold timer pending

    def install(self) -> PeerImpairment:
        with self.peer.lock:
            self.peer.impair = self
        self.log.event("rules", rules=self.engine.rules.to_json())
        return self

    def remove(self) -> dict[str, Any]:
        """Stop impairing; frames still held are released at once. Returns counters."""
        with self.peer.lock:
            if self.peer.impair is self:
                self.peer.impair = None
            self._release_held(float("inf"))
            counters = self.counters()
        self.log.event("stop", counters=counters)
        self.log.close()
        return counters

    def counters(self) -> dict[str, Any]:
        return self.engine.counters()

    def __enter__(self) -> PeerImpairment:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- the Peer's hook (called by the peer's I/O with its lock held) ---------------------
    def outgoing(self, seg: Segment, frame: bytes, wire_out: WireOut) -> None:
        """A segment the peer built: sent now, later (a timer), or never."""
        self._wire_out = wire_out
        now = time.time_ns()
        results = self.engine.pipelines["to-dut"].process(frame, now)
        for i, (out, release_ns) in enumerate(results):
            one = seg if i == 0 else copy.copy(seg)  # a duplicate is a segment of its own
            self._at(release_ns, now, lambda s=one, f=out: wire_out(s, f))
        self._arm("to-dut")
        self.log.flush()

    def arrivals(self, batch: list[RxFrame], deliver: Deliver) -> list[RxFrame]:
        """The frames of `batch` to process now; held ones go to `deliver` later."""
        self._deliver = deliver
        pipeline = self.engine.pipelines["to-bench"]
        now_frames: list[RxFrame] = []
        now = time.time_ns()
        for rx in batch:
            arrived = rx.ts_ns or now  # the kernel's receive time (CLOCK_REALTIME)
            for out, release_ns in pipeline.process(rx.data, arrived):
                frame = rx if out is rx.data else RxFrame(out, rx.ts_ns, rx.frame_no)
                if release_ns <= arrived:
                    now_frames.append(frame)
                else:
                    self._at(release_ns, now, lambda f=frame: deliver([f]))
        self._arm("to-bench")
        self.log.flush()
        return now_frames

    # -- timers ---------------------------------------------------------------------------
    def _at(self, release_ns: int, now_ns: int, action: Callable[[], Any]) -> None:
        wait_ns = release_ns - now_ns
        if wait_ns <= 0:
            action()
        else:
            self.peer.loop.call_later(wait_ns / 1e9, action)

    def _arm(self, direction: str) -> None:
        """A reorder stage holds frames until later ones come or its hold expires: one
        timer per direction, for the earliest release (as the bridge keeps one deadline),
        not one more per frame."""
        pipeline = self.engine.pipelines[direction]
        due = pipeline.next_due_ns() if pipeline.holds else None
        if due is None:
            return
        armed = self._armed_ns.get(direction)
        if armed is not None and armed <= due:
            return  # the pending timer comes first and re-arms when it fires
        self._armed_ns[direction] = due
        wait_s = max(0.0, (due - time.time_ns()) / 1e9)
        self.peer.loop.call_later(wait_s, lambda: self._expire(direction, due))

    def _expire(self, direction: str, due: int) -> None:
        if self._armed_ns.get(direction) == due:
            del self._armed_ns[direction]
        self._release_due(self.engine.pipelines[direction], direction, time.time_ns())
        self._arm(direction)

    def _release_held(self, now_ns: float) -> None:
        for direction, pipeline in self.engine.pipelines.items():
            self._release_due(pipeline, direction, now_ns)

    def _release_due(self, pipeline: Pipeline, direction: str, now_ns: float) -> None:
        for frame, _release in pipeline.due(now_ns):  # type: ignore[arg-type]
            if direction == "to-dut" and self._wire_out is not None:
                seg = self._segment_of(frame)
                if seg is not None:
                    self._wire_out(seg, frame)
            elif direction == "to-bench" and self._deliver is not None:
                self._deliver([RxFrame(frame, time.time_ns(), 0)])

    @staticmethod
    def _segment_of(frame: bytes) -> Segment | None:
        seg = parse_frame(frame, 0, 0)
        if seg is not None:
            seg.direction = "out"
        return seg
