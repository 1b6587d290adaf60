"""A DUT -> peer bulk transfer that the peer clocks round by round.

The peer withholds its own ACKs; the DUT sends what its windows allow and stops; once
the DUT has been quiet for `quiet_s` the round is over, the DUT's own view (`stat`:
cwnd, ssthresh) is read while nothing moves, and the peer answers the round with the
ACKs the experiment asks for (one per segment, duplicates, or none). A round's flight
is then the DUT's send window, whatever the lab's sub-millisecond RTT and the peer's
scheduling. Python's clock only decides when a round is over; every figure comes from
the kernel timestamps of the peer's capture (through the oracle).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from bench.model import Connection, ConnOptions, DropRule, Peer, Segment
from bench.model import options as opt
from firmware_adapters.dut import Dut

MOD = 1 << 32


@dataclass
class Round:
    """One flight of the DUT and what the DUT reported after it."""

    no: int
    segments: list[Segment]  # the DUT's data segments (first transmissions and resends)
    stat: dict[str, str]
    released_frame: int = 0  # frame of the peer's first answer to it (0: not answered)
    released_ns: int = 0
    released_last_ns: int = 0  # the peer's last answer to it

    @property
    def flight_bytes(self) -> int:
        return sum(len(s.payload) for s in self.segments)

    @property
    def cwnd_reported(self) -> int | None:
        value = self.stat.get("cwnd")
        return int(value) if value not in (None, "") else None

    @property
    def ssthresh_reported(self) -> int | None:
        value = self.stat.get("ssthresh")
        return int(value) if value not in (None, "") else None


@dataclass
class ClockedTransfer:
    """The peer's side of one clocked transfer from the DUT (a listener on `port`)."""

    dut: Dut
    peer: Peer
    dut_ip: str
    port: int
    options: ConnOptions
    quiet_s: float = 0.03
    conn: Connection | None = None
    cid: int = 0
    lid: int = 0
    lines: list[str] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    drops: list[DropRule] = field(default_factory=list)
    initial_stat: dict[str, str] = field(default_factory=dict)
    rcv_rel: int = 1  # next byte expected, relative to the DUT's ISN
    ooo: dict[int, int] = field(default_factory=dict)  # rel start -> rel end
    ts_recent: int | None = None  # TSval of the segment that last advanced rcv_rel
    _since: int = 0

    # ------------------------------------------------------------ set up / tear down
    def open(self, nbytes: int) -> None:
        """Peer connects to the DUT's listener, withholds ACKs; the DUT sends `nbytes`."""
        self.lid = self.dut.listen(self.port, mode="discard")
        self.conn = self.peer.connect(self.dut_ip, self.port, options=self.options)
        lport = self.conn.local[1]
        accepted = self.dut.wait_event("accepted", 5, remote=f"{self.peer.ip}:{lport}")
        self.lines.append(accepted.raw)
        self.cid = int(accepted.fields["id"])
        self.conn.hold_acks(True)
        self.initial_stat = self.dut.stat(self.cid)
        self._since = self.peer.mark()
        self.dut.send(self.cid, nbytes)

    def close(self) -> None:
        """Abort the transfer (RST from the peer) and stop listening."""
        for rule in self.drops:
            self.peer.remove_drop_rule(rule)
        if self.conn is not None:
            self.conn.abort()  # still holding ACKs: a released ACK would draw a RST
        with contextlib.suppress(Exception):
            self.dut.unlisten(self.lid)

    # --------------------------------------------------------------- observing
    def is_data(self, s: Segment) -> bool:
        assert self.conn is not None
        return (s.direction == "in" and s.sport == self.port
                and s.dport == self.conn.local[1] and bool(s.payload))

    def rel(self, s: Segment) -> int:
        """The segment's first byte relative to the DUT's ISN (1 = first data byte)."""
        assert self.conn is not None
        return (s.seq - self.conn.irs) % MOD

    def wait_round(self, limit_s: float = 5.0, quiet_s: float | None = None) -> Round:
        """The DUT's data segments until it has been quiet for `quiet_s` (or `limit_s`
        passed without any), then its `stat` while it waits for the peer."""
        quiet = self.quiet_s if quiet_s is None else quiet_s
        start = time.monotonic()
        count, changed = 0, start
        while True:
            segs = [s for s in self.peer.segments(self._since) if self.is_data(s)]
            now = time.monotonic()
            if len(segs) != count:
                count, changed = len(segs), now
            elif segs and now - changed >= quiet:
                break
            elif not segs and now - start >= limit_s:
                break
            time.sleep(0.002)
        self._since = self.peer.mark()
        stat = self.dut.stat(self.cid)
        rnd = Round(len(self.rounds) + 1, segs, stat)
        self.rounds.append(rnd)
        return rnd

    # ------------------------------------------------------------------ acting
    def drop_next(self, count: int = 1, skip: int = 0) -> DropRule:
        """Lose the next `count` new data segments (after `skip`) before the peer's TCP
        sees them; they still appear in the capture (they were on the wire)."""
        sent_end = self.highest_sent()
        seen: set[int] = set()

        def first_sends(s: Segment) -> bool:
            if not self.is_data(s):
                return False
            rel = self.rel(s)
            if rel < sent_end or rel in seen:
                return False
            seen.add(rel)
            return True

        rule = self.peer.add_drop_rule(DropRule("in", first_sends, count=count, skip=skip))
        self.drops.append(rule)
        return rule

    def highest_sent(self) -> int:
        ends = [self.rel(s) + len(s.payload) for r in self.rounds for s in r.segments]
        return max(ends, default=1)

    def ack(self, ack_rel: int) -> Segment:
        """One pure ACK with a fixed window (so that equal ACKs are duplicate ACKs)."""
        assert self.conn is not None
        tcb = self.conn.tcb
        field_ = min(self.options.window_bytes >> tcb.rcv_wscale, 0xFFFF)
        options = None
        if tcb.ts_ok:  # RFC 7323 4.3: echo the segment that advanced the left edge
            echo = self.ts_recent if self.ts_recent is not None else tcb.ts_recent
            options = opt.timestamp_bytes(tcb._tsval(), echo)
        return self.conn.inject("A", ack=ack_rel, window=field_, options_raw=options)

    def ack_rounds(self, count: int) -> None:
        """Up to `count` rounds, each ACKed segment by segment; stops after a round in
        which the DUT sent nothing (the transfer ended or the DUT waits on a timer)."""
        for _ in range(count):
            rnd = self.wait_round()
            if not rnd.segments:
                return
            self.ack_each(rnd)

    def ack_each(self, rnd: Round) -> list[Segment]:
        """What a receiver ACKing every segment sends for this round: cumulative ACKs,
        a duplicate ACK for each segment above a hole (dropped segments never arrive)."""
        lost = self.dropped_ids()
        self._since = self.peer.mark()  # the DUT answers while the ACKs still go out
        sent = []
        for s in sorted(rnd.segments, key=self.rel):
            if id(s) in lost:
                continue
            self._take(s)
            sent.append(self.ack(self.rcv_rel))
        self._mark_released(rnd, sent)
        return sent

    def ack_all(self, rnd: Round) -> Segment:
        """One cumulative ACK for everything received so far."""
        lost = self.dropped_ids()
        for s in rnd.segments:
            if id(s) not in lost:
                self._take(s)
        self._since = self.peer.mark()
        seg = self.ack(self.rcv_rel)
        self._mark_released(rnd, [seg])
        return seg

    def receive(self, rnd: Round) -> None:
        """Take the round's segments as received without ACKing them (yet)."""
        lost = self.dropped_ids()
        for s in rnd.segments:
            if id(s) not in lost:
                self._take(s)

    def wait_resend(self, rel: int, since: int, timeout_s: float) -> Segment | None:
        """The DUT's next segment starting at `rel` logged after `since`, if any comes."""
        deadline = time.monotonic() + timeout_s
        while True:
            for s in self.peer.segments(since):
                if self.is_data(s) and self.rel(s) == rel:
                    return s
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.001)

    def restart_round(self, since: int) -> None:
        """The next round collects from log position `since`."""
        self._since = since

    def dropped_ids(self) -> set[int]:
        return {id(s) for rule in self.drops for s in rule.dropped}

    def _take(self, s: Segment) -> None:
        start = self.rel(s)
        if start <= self.rcv_rel < start + len(s.payload) and s.options.timestamp:
            self.ts_recent = s.options.timestamp[0]
        self._receive(start, start + len(s.payload))

    def _receive(self, start: int, end: int) -> None:
        if end <= self.rcv_rel:
            return
        if start > self.rcv_rel:
            self.ooo[start] = max(end, self.ooo.get(start, end))
            return
        self.rcv_rel = end
        for s in sorted(self.ooo):
            if s <= self.rcv_rel:
                self.rcv_rel = max(self.rcv_rel, self.ooo.pop(s))

    def _mark_released(self, rnd: Round, sent: list[Segment]) -> None:
        if sent and not rnd.released_frame:
            rnd.released_frame = sent[0].frame_no
            rnd.released_ns = sent[0].ts_ns
        if sent:
            rnd.released_last_ns = sent[-1].ts_ns
        self.drain()

    def drain(self) -> None:
        """Empty the peer's receive buffer (nobody reads it otherwise)."""
        assert self.conn is not None
        with self.peer.lock:
            self.conn.tcb.user_recv(1 << 30)
