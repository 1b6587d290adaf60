"""The sender's SACK scoreboard (RFC 6675, simplified): which bytes above SND.UNA the
receiver has reported holding, so that loss recovery resends only the holes.

Sequence numbers are the TCB's unwrapped ints. Every byte below the highest SACKed byte
that is not SACKed counts as lost (RFC 6675's IsLost with a threshold of one block);
bytes above it are in flight. That is enough for the model to behave like a SACK
sender on the wire; it is not a congestion-control study.
"""

from __future__ import annotations

from collections.abc import Iterable


class Scoreboard:
    def __init__(self) -> None:
        self.blocks: list[tuple[int, int]] = []  # sorted, disjoint, [start, end)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    @property
    def high(self) -> int | None:
        """One past the highest SACKed byte (RFC 6675 HighSACK + 1), or None."""
        return self.blocks[-1][1] if self.blocks else None

    def clear(self) -> None:
        self.blocks = []

    def update(self, blocks: Iterable[tuple[int, int]], snd_una: int, snd_max: int) -> bool:
        """Merge reported blocks; those not within (SND.UNA, SND.MAX] are ignored (a
        D-SACK below SND.UNA, or garbage). True when something new was learnt."""
        spans = list(self.blocks)
        before = len(spans), self.sacked_bytes()
        for start, end in blocks:
            start = max(start, snd_una)
            if end <= start or end > snd_max:
                continue
            spans.append((start, end))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.blocks = merged
        return (len(merged), self.sacked_bytes()) != before

    def advance(self, snd_una: int) -> None:
        """The cumulative ACK moved: forget what is now below it."""
        kept = []
        for start, end in self.blocks:
            if end > snd_una:
                kept.append((max(start, snd_una), end))
        self.blocks = kept

    def sacked_bytes(self) -> int:
        return sum(end - start for start, end in self.blocks)

    def is_sacked(self, seq: int) -> bool:
        return any(start <= seq < end for start, end in self.blocks)

    def next_hole(self, from_seq: int) -> tuple[int, int] | None:
        """The first unSACKed range at or after `from_seq` below the highest SACKed
        byte, as [start, end); None when there is none."""
        cursor = from_seq
        for start, end in self.blocks:
            if cursor < start:
                return cursor, start
            cursor = max(cursor, end)
        return None

    def unsacked_bytes(self, start: int, end: int) -> int:
        """Bytes in [start, end) that are not SACKed."""
        if end <= start:
            return 0
        covered = 0
        for left, right in self.blocks:
            lo, hi = max(left, start), min(right, end)
            if hi > lo:
                covered += hi - lo
        return end - start - covered
