"""Partial segment patterns for expect() and drop rules, and packetdrill's timing
tolerance: a segment expected `at_s` after a reference event may arrive within
max(abs_s, percent% of at_s) of that instant."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from bench.model.segment import Segment, flags_from


@dataclass(frozen=True)
class Tolerance:
    """packetdrill's --tolerance_usecs (abs_s) and --tolerance_percent (percent)."""

    abs_s: float = 0.004
    percent: float = 0.0

    def allowed_s(self, interval_s: float) -> float:
        return max(self.abs_s, self.percent / 100.0 * abs(interval_s))


@dataclass(frozen=True)
class SegmentPattern:
    """Fields left None (or empty) match anything.

    `flags` is the exact flag set ('SA', 'FA', 'A', 'R'); `has` / `lacks` test single
    bits. `seq` and `ack` are compared modulo 2**32 after subtracting the bases the
    caller gives (a Connection passes the DUT's ISN and its own, so they are relative).
    `options` names options that must be present ('mss', 'wscale', 'sack_perm', 'sack',
    'ts'); `no_options` names ones that must be absent."""

    flags: str | None = None
    has: str = ""
    lacks: str = ""
    seq: int | None = None
    ack: int | None = None
    payload_len: int | None = None
    min_payload_len: int | None = None
    max_payload_len: int | None = None
    window: int | None = None
    options: tuple[str, ...] = ()
    no_options: tuple[str, ...] = ()
    sport: int | None = None
    dport: int | None = None
    src: str | None = None
    dst: str | None = None
    direction: str = "in"
    where: Callable[[Segment], bool] | None = None

    def matches(self, seg: Segment, seq_base: int = 0, ack_base: int = 0,
                check_direction: bool = True) -> bool:
        if check_direction and self.direction and seg.direction != self.direction:
            return False
        if self.flags is not None and seg.flags != flags_from(self.flags):
            return False
        if self.has and seg.flags & flags_from(self.has) != flags_from(self.has):
            return False
        if self.lacks and seg.flags & flags_from(self.lacks):
            return False
        if self.seq is not None and (seg.seq - seq_base - self.seq) & 0xFFFFFFFF:
            return False
        if self.ack is not None and (seg.ack - ack_base - self.ack) & 0xFFFFFFFF:
            return False
        n = len(seg.payload)
        if self.payload_len is not None and n != self.payload_len:
            return False
        if self.min_payload_len is not None and n < self.min_payload_len:
            return False
        if self.max_payload_len is not None and n > self.max_payload_len:
            return False
        if self.window is not None and seg.window != self.window:
            return False
        if self.sport is not None and seg.sport != self.sport:
            return False
        if self.dport is not None and seg.dport != self.dport:
            return False
        if self.src is not None and seg.src_ip != ipaddress.IPv4Address(self.src).packed:
            return False
        if self.dst is not None and seg.dst_ip != ipaddress.IPv4Address(self.dst).packed:
            return False
        if self.options or self.no_options:
            names = set(seg.options.names())
            if not set(self.options) <= names or names & set(self.no_options):
                return False
        return self.where is None or bool(self.where(seg))
