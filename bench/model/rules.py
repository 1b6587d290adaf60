"""Drop rules: the peer discards its own outgoing or incoming segments on purpose
(a lost ACK, a lost data segment, a lost window update), with the dropped ones kept
as evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.model.pattern import SegmentPattern
from bench.model.segment import Segment


@dataclass
class DropRule:
    """Drop segments going `direction` ('in' or 'out') that match `match`.

    The first `skip` matches pass, then `count` are dropped (None: every one).
    Incoming drops still appear in the pcap (they were on the wire); outgoing drops
    never reach the wire and are listed in `dropped`."""

    direction: str
    match: SegmentPattern | Callable[[Segment], bool]
    count: int | None = 1
    skip: int = 0
    seen: int = 0
    dropped: list[Segment] = field(default_factory=list)

    def take(self, seg: Segment) -> bool:
        """True when `seg` must be dropped (and count it)."""
        if seg.direction != self.direction:
            return False
        if self.count is not None and len(self.dropped) >= self.count:
            return False
        if isinstance(self.match, SegmentPattern):
            hit = self.match.matches(seg, check_direction=False)
        else:
            hit = bool(self.match(seg))
        if not hit:
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.dropped.append(seg)
        return True

    @property
    def exhausted(self) -> bool:
        return self.count is not None and len(self.dropped) >= self.count
