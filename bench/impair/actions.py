"""What a stage does to a selected packet: one small class per action kind.

Each class registers itself under its rule `kind`; the pipeline looks it up and calls
`act(pkt) -> (packets that continue, event name, log detail)`. Actions that hold
packets back (reorder) also see every arrival and expose a deadline.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, ClassVar

from bench.impair import rules

ACTIONS: dict[str, type[Action]] = {}


class Packet:
    """A frame in flight through a pipeline."""

    __slots__ = ("frame", "arrival_ns", "release_ns", "index", "headers")

    def __init__(self, frame: bytes, arrival_ns: int, release_ns: int, index: int,
                 headers: Any):
        self.frame = frame
        self.arrival_ns = arrival_ns  # kernel receive time: what the log reports
        self.release_ns = release_ns  # when it may leave (raised by delay and rate)
        self.index = index
        self.headers = headers

    def copy(self) -> Packet:
        return Packet(self.frame, self.arrival_ns, self.release_ns, self.index, self.headers)


Result = tuple[list[Packet], str, dict[str, Any] | None]


def register(kind: str):
    """Class decorator: make an action available to rule files under `kind`."""

    def add(cls: type[Action]) -> type[Action]:
        cls.kind = kind
        ACTIONS[kind] = cls
        return cls

    return add


class Action:
    kind: ClassVar[str]
    holds: ClassVar[bool] = False  # True when the action keeps packets for later

    def __init__(self, spec: Any, rng: random.Random):
        self.spec = spec
        self.rng = rng

    def act(self, pkt: Packet) -> Result:
        raise NotImplementedError

    def arrival(self, pkt: Packet) -> list[Packet]:
        """Held packets released by this arrival (only for `holds` actions)."""
        return []

    def next_due_ns(self) -> int | None:
        return None

    def expire(self, now_ns: int) -> list[Packet]:
        return []


@register("drop")
class DropAction(Action):
    def act(self, pkt: Packet) -> Result:
        return [], "dropped", None


@register("delay")
class DelayAction(Action):
    def __init__(self, spec: rules.Delay, rng: random.Random):
        super().__init__(spec, rng)
        self.delay_ns = int(spec.delay_ms * 1e6)
        self.jitter_ns = spec.jitter_ms * 1e6
        self.last_release_ns = 0

    def act(self, pkt: Packet) -> Result:
        delay = self.delay_ns
        if self.jitter_ns:
            if self.spec.distribution == "uniform":
                delay += int(self.rng.uniform(-self.jitter_ns, self.jitter_ns))
            else:
                delay += int(self.rng.gauss(0.0, self.jitter_ns))
        release = pkt.release_ns + max(0, delay)
        if not self.spec.reorder:  # a later packet never leaves before an earlier one
            release = max(release, self.last_release_ns)
            self.last_release_ns = release
        detail = {"delay_ns": release - pkt.release_ns}
        pkt.release_ns = release
        return [pkt], "delayed", detail


@register("reorder")
class ReorderAction(Action):
    holds = True

    def __init__(self, spec: rules.Reorder, rng: random.Random):
        super().__init__(spec, rng)
        self.held: list[list[Any]] = []  # [arrivals still to wait for, packet, deadline_ns]
        self.max_hold_ns = int(spec.max_hold_ms * 1e6)

    def act(self, pkt: Packet) -> Result:
        self.held.append([self.spec.depth, pkt, pkt.release_ns + self.max_hold_ns])
        return [], "reordered", {"depth": self.spec.depth}

    def arrival(self, pkt: Packet) -> list[Packet]:
        if not self.held:
            return []
        released = []
        for entry in self.held:
            entry[0] -= 1
            if entry[0] <= 0:
                held = entry[1]
                held.release_ns = max(held.release_ns, pkt.release_ns)
                released.append(held)
        if released:
            self.held = [entry for entry in self.held if entry[0] > 0]
        return released

    def next_due_ns(self) -> int | None:
        return min((entry[2] for entry in self.held), default=None)

    def expire(self, now_ns: int) -> list[Packet]:
        gone = [entry[1] for entry in self.held if entry[2] <= now_ns]
        if gone:
            self.held = [entry for entry in self.held if entry[2] > now_ns]
        return gone


@register("duplicate")
class DuplicateAction(Action):
    def act(self, pkt: Packet) -> Result:
        copies = self.spec.copies
        return [pkt] + [pkt.copy() for _ in range(copies)], "duplicated", {"copies": copies}


@register("corrupt")
class CorruptAction(Action):
    def act(self, pkt: Packet) -> Result:
        h = pkt.headers
        end = h.payload_offset + h.payload_bytes
        start, stop = {"any": (h.l4_offset, end), "header": (h.l4_offset, h.payload_offset),
                       "payload": (h.payload_offset, end)}[self.spec.where]
        if h.proto == 0 or stop <= start:
            return [pkt], "corrupt-skipped", None
        bit = self.rng.randrange((stop - start) * 8)
        offset = start + bit // 8
        frame = bytearray(pkt.frame)
        frame[offset] ^= 0x80 >> (bit % 8)
        pkt.frame = bytes(frame)
        return [pkt], "corrupted", {"byte": offset, "bit": bit % 8}


@register("rate")
class RateAction(Action):
    """Token bucket as GCRA: a packet of L bytes occupies the link for L*8/rate."""

    def __init__(self, spec: rules.Rate, rng: random.Random):
        super().__init__(spec, rng)
        self.ns_per_byte = 8e9 / spec.rate_bps
        self.burst_ns = spec.burst_bytes * self.ns_per_byte
        self.tat_ns = 0.0  # theoretical arrival time of the next packet
        self.queue: deque[tuple[int, int]] = deque()  # (release_ns, bytes) still waiting
        self.queued_bytes = 0

    def act(self, pkt: Packet) -> Result:
        now = pkt.release_ns
        queue = self.queue
        while queue and queue[0][0] <= now:
            self.queued_bytes -= queue.popleft()[1]
        size = len(pkt.frame)
        spec = self.spec
        if ((spec.limit_packets is not None and len(queue) >= spec.limit_packets)
                or (spec.limit_bytes is not None and self.queued_bytes + size > spec.limit_bytes)):
            return [], "rate-dropped", {"queue_packets": len(queue)}
        start = max(self.tat_ns, now)
        self.tat_ns = start + size * self.ns_per_byte
        release = max(now, int(self.tat_ns - self.burst_ns))
        queue.append((release, size))
        self.queued_bytes += size
        pkt.release_ns = release
        return [pkt], "rate-queued", {"delay_ns": release - now}
