"""The reference peer: a TCP endpoint (client and server) on one lab interface.

One I/O thread per link (bench.wire.IoLoop) receives frames in batches, feeds each TCP
segment to its TCB, then lets every touched TCB send once (batched ACKs and data).
Public calls take the loop's lock, like a kernel socket lock, and wait on its
condition. Everything received or sent is logged (in order) for expect().
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.model.config import ConnOptions
from bench.model.connection import Connection
from bench.model.pattern import SegmentPattern, Tolerance
from bench.model.rules import DropRule
from bench.model.segment import ACK, RST, SYN, Segment, build_frame, flags_from, parse_frame
from bench.model.tcb import Tcb, TcpError
from bench.wire import (
    ArpResponder,
    IoLoop,
    Link,
    LoopTuning,
    PcapngWriter,
    RxFrame,
    Timer,
    TxFrame,
)

FlowKey = tuple[bytes, int, bytes, int]  # local ip, local port, remote ip, remote port


class ExpectError(AssertionError):
    """No segment matched in time, or it came outside the tolerance window."""


@dataclass(frozen=True)
class Match:
    """A segment expect() found: the segment, its kernel timestamp and pcap frame."""

    segment: Segment
    ts_ns: int
    frame_no: int
    index: int


@dataclass
class Listener:
    port: int
    options: ConnOptions
    backlog: int
    queue: deque[Connection] = field(default_factory=deque)
    half_open: set[int] = field(default_factory=set)  # ids of TCBs in SYN_RECEIVED


@dataclass
class PeerStats:
    bad_checksum: int = 0
    dropped_in: int = 0
    dropped_out: int = 0
    resets_sent: int = 0
    no_arp: int = 0
    blackholed: int = 0


def ip_bytes(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def ip_str(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


class PeerImpairmentHook(Protocol):
    """What the peer asks of an impairment engine in its I/O (bench.impair.peer_io)."""

    def outgoing(self, seg: Segment, frame: bytes,
                 wire_out: Callable[[Segment, bytes], Segment]) -> None: ...

    def arrivals(self, batch: list[RxFrame],
                 deliver: Callable[[list[RxFrame]], None]) -> list[RxFrame]: ...


class Peer:
    """The model as a network endpoint owning `ip` / `mac` on `ifname` in `ns`.

    `spoof_networks` are extra ranges the peer may send from (and receives and answers
    ARP for). `pcap` records every frame in and out (nanosecond kernel timestamps).
    `tuning` sets how the I/O thread waits (busy polling, SCHED_FIFO, CPU pinning)."""

    def __init__(
        self,
        ns: str,
        ifname: str,
        ip: str = "192.0.2.2",
        mac: str = "02:00:00:00:01:02",
        pcap: Path | str | None = None,
        spoof_networks: Sequence[str] = (),
        answer_closed_ports: bool = True,
        defaults: ConnOptions | None = None,
        log_limit: int = 2_000_000,
        remotes: Sequence[str] = (),
        tuning: LoopTuning | None = None,
    ) -> None:
        self.ip = ip
        self.ip_raw = ip_bytes(ip)
        self.defaults = defaults or ConnOptions()
        self.answer_closed_ports = answer_closed_ports
        self.stats = PeerStats()
        networks = [f"{ip}/32", *spoof_networks]
        self.pcap = PcapngWriter(pcap) if pcap is not None else None
        # `remotes`: the only hosts heard (the DUT), so peers serving different DUTs at
        # once on one bench segment never see, nor reset, each other's flows
        self.link = Link(ns, ifname, mac, networks, self.pcap, sources=remotes)
        self.arp = ArpResponder(self.link.mac, networks, self.link.send)
        self.loop = IoLoop(self.link, self._on_frames, name=f"peer-{ifname}", tuning=tuning)
        self.lock = self.loop.lock
        self.cond = self.loop.changed
        self._conns: dict[FlowKey, Tcb] = {}
        self._handles: dict[int, Connection] = {}
        self._listeners: dict[int, Listener] = {}
        self.drop_rules: list[DropRule] = []
        self.blackhole_ports: set[int] | None = None
        self.blackhole_enabled = False
        # frames that carry no TCP (UDP, ICMP) go to these, in the I/O thread
        self.frame_taps: list[Callable[[RxFrame], None]] = []
        # The impairment engine in the peer's own I/O, for a lab with one NIC and no
        # bridge (bench.impair.peer_io.PeerImpairment.install); None: no impairment.
        self.impair: PeerImpairmentHook | None = None
        self._log: list[Segment] = []
        self._log_base = 0
        self._log_limit = log_limit
        self.cursor = 0
        self.last_tx_ns = 0
        self._ip_id = secrets.randbelow(1 << 16)
        self._closed = False
        self.loop.start()

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop the I/O thread, close the socket, finish the pcap."""
        if self._closed:
            return
        self._closed = True
        self.loop.stop()
        self.link.close()
        if self.pcap is not None:
            self.pcap.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush_pcap(self) -> None:
        if self.pcap is not None:
            self.pcap.flush()

    # ------------------------------------------------------------- TcbEnv
    def now_ns(self) -> int:
        return time.monotonic_ns()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self.loop.call_later(delay_s, fn)

    def transmit(self, tcb: Tcb | None, seg: Segment) -> None:
        self._send_segment(seg)

    def on_established(self, tcb: Tcb) -> None:
        if tcb.passive:
            listener = self._listeners.get(tcb.local[1])
            if listener is not None:
                listener.half_open.discard(id(tcb))
                listener.queue.append(self._handle(tcb))
        self.cond.notify_all()

    def on_closed(self, tcb: Tcb) -> None:
        key = (tcb.local[0], tcb.local[1], tcb.remote[0], tcb.remote[1])
        if self._conns.get(key) is tcb:
            del self._conns[key]
        listener = self._listeners.get(tcb.local[1]) if tcb.passive else None
        if listener is not None:
            listener.half_open.discard(id(tcb))
        self.cond.notify_all()

    # ----------------------------------------------------------- sending
    def _send_segment(self, seg: Segment, bad_checksum: bool = False,
                      data_offset_words: int | None = None) -> Segment:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        seg.ip_id = self._ip_id
        seg.direction = "out"
        for rule in self.drop_rules:
            if rule.take(seg):
                self.stats.dropped_out += 1
                return seg
        mac = self.arp.lookup(seg.dst_ip)
        if mac is None:
            self.stats.no_arp += 1
            return seg
        if seg.flags & RST:
            self.stats.resets_sent += 1
        frame = build_frame(seg, self.link.mac, mac, bad_checksum, data_offset_words)
        if self.impair is not None:  # its stages send the frame now, later or never
            self.impair.outgoing(seg, frame, self.wire_out)
            return seg
        return self.wire_out(seg, frame)

    def wire_out(self, seg: Segment, frame: bytes) -> Segment:
        """Put a built frame on the wire; its segment gets the kernel TX stamp and log."""
        tx = self.link.send(frame)
        seg.ts_ns = tx.ts_ns
        seg.frame_no = tx.frame_no
        self.last_tx_ns = tx.ts_ns or self.last_tx_ns
        self._log_append(seg)
        return seg

    def inject(
        self,
        dst: str,
        dport: int,
        sport: int,
        flags: str | int,
        seq: int,
        ack: int = 0,
        window: int = 65535,
        payload: bytes = b"",
        options_raw: bytes = b"",
        src: str | None = None,
        bad_checksum: bool = False,
        data_offset_words: int | None = None,
        ttl: int = 64,
    ) -> Segment:
        """Send one hand-made segment outside any connection (absolute numbers).

        Returns it with its kernel TX timestamp and pcap frame number filled in."""
        bits = flags_from(flags) if isinstance(flags, str) else flags
        seg = Segment(ip_bytes(src) if src else self.ip_raw, ip_bytes(dst), sport, dport,
                      seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, bits, window, options_raw,
                      payload, ttl=ttl)
        with self.lock:
            self._ensure_arp(dst)
            return self._send_segment(seg, bad_checksum, data_offset_words)

    def send_ip(self, packet: bytes, comment: str | None = None) -> TxFrame:
        """Send one hand-made IPv4 packet (UDP, ICMP, ...) to its destination's MAC.

        Returns the frame with its kernel TX timestamp and pcap frame number."""
        with self.lock:
            mac = self._ensure_arp(ip_str(packet[16:20]))
            tx = self.link.send(mac + self.link.mac + b"\x08\x00" + packet, comment)
            self.last_tx_ns = tx.ts_ns or self.last_tx_ns
            return tx

    def own_networks(self, networks: Sequence[str]) -> list[str]:
        """Own the peer's address plus `networks` from now on (spoofed sources: ARP is
        answered for them and frames to them are received); returns the ranges owned
        before, to give back later."""
        owned = [f"{self.ip}/32", *networks]
        with self.lock:
            before = [str(n) for n in self.arp.owned[1:]]
            self.arp.owned = [ipaddress.IPv4Network(n, strict=False) for n in owned]
            self.link.set_networks(owned)
        return before

    # -------------------------------------------------------------- ARP
    def resolve(self, addr: str, timeout_s: float = 2.0) -> bytes:
        """The MAC of `addr`, asking with ARP if needed (raises TimeoutError)."""
        with self.lock:
            return self._ensure_arp(addr, timeout_s)

    def _ensure_arp(self, addr: str, timeout_s: float = 2.0) -> bytes:
        raw = ip_bytes(addr)
        deadline = time.monotonic() + timeout_s
        next_request = 0.0
        while True:
            mac = self.arp.lookup(raw)
            if mac is not None:
                return mac
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(f"no ARP reply from {addr}")
            if now >= next_request:
                self.arp.request(addr, self.ip)
                next_request = now + 0.3
            self.cond.wait(min(0.1, deadline - now))

    # ----------------------------------------------------- connections
    def _handle(self, tcb: Tcb) -> Connection:
        handle = self._handles.get(id(tcb))
        if handle is None:
            handle = Connection(self, tcb)
            self._handles[id(tcb)] = handle
        return handle

    def _ephemeral_port(self, src: bytes, dst: bytes, dport: int) -> int:
        while True:
            port = 32768 + secrets.randbelow(28232)
            if (src, port, dst, dport) not in self._conns:
                return port

    def connect(self, addr: str, port: int, options: ConnOptions | None = None,
                local_port: int | None = None, src: str | None = None, wait: bool = True,
                timeout_s: float = 5.0) -> Connection:
        """Active open. With `wait`, returns once ESTABLISHED (raises TcpError/Timeout)."""
        with self.lock:
            self._ensure_arp(addr)
            src_raw = ip_bytes(src) if src else self.ip_raw
            dst_raw = ip_bytes(addr)
            lport = local_port or self._ephemeral_port(src_raw, dst_raw, port)
            tcb = Tcb(self, (src_raw, lport), (dst_raw, port), options or self.defaults)
            self._conns[(src_raw, lport, dst_raw, port)] = tcb
            conn = self._handle(tcb)
            tcb.open_active()
        if wait:
            conn.wait_state("ESTABLISHED", timeout_s)
        return conn

    def listen(self, port: int, options: ConnOptions | None = None,
               backlog: int = 128) -> None:
        """Passive open on `port` (on every address the peer owns)."""
        with self.lock:
            self._listeners[port] = Listener(port, options or self.defaults, backlog)

    def unlisten(self, port: int) -> None:
        with self.lock:
            self._listeners.pop(port, None)

    def accept(self, port: int | None = None, timeout_s: float = 5.0) -> Connection:
        """The next ESTABLISHED passive connection (on `port`, or any listener)."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while True:
                for listener in self._listeners.values():
                    if (port is None or listener.port == port) and listener.queue:
                        return listener.queue.popleft()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no connection accepted on port {port} in {timeout_s} s")
                self._check_loop()
                self.cond.wait(remaining)

    def connections(self) -> list[Connection]:
        with self.lock:
            return [self._handle(t) for t in self._conns.values()]

    def blackhole(self, enabled: bool = True, ports: set[int] | None = None) -> None:
        """See segments that match no connection (SYNs ...) and answer nothing."""
        with self.lock:
            self.blackhole_enabled = enabled
            self.blackhole_ports = set(ports) if ports is not None else None

    def add_drop_rule(self, rule: DropRule) -> DropRule:
        with self.lock:
            self.drop_rules.append(rule)
        return rule

    def remove_drop_rule(self, rule: DropRule) -> None:
        with self.lock:
            if rule in self.drop_rules:
                self.drop_rules.remove(rule)

    def _check_loop(self) -> None:
        if self.loop.error is not None:
            raise RuntimeError("the peer's I/O thread died") from self.loop.error

    # ------------------------------------------------------------ input
    def _on_frames(self, batch: list[RxFrame]) -> None:
        if self.impair is not None:  # held frames come back later through the callback
            batch = self.impair.arrivals(batch, self._process_frames)
        self._process_frames(batch)

    def _process_frames(self, batch: list[RxFrame]) -> None:
        touched: dict[int, Tcb] = {}
        conns = self._conns
        for frame in batch:
            data = frame.data
            if data[12:14] == b"\x08\x06":
                self.arp.handle(data)
                continue
            seg = parse_frame(data, frame.ts_ns, frame.frame_no)
            if seg is None:
                for tap in self.frame_taps:
                    tap(frame)
                continue
            self.arp.table[seg.src_ip] = seg.src_mac
            self._log_append(seg)
            if self.drop_rules and self._drop_in(seg):
                continue
            if not seg.checksum_ok:
                self.stats.bad_checksum += 1
                continue
            tcb = conns.get((seg.dst_ip, seg.dport, seg.src_ip, seg.sport))
            if tcb is not None:
                tcb.segment_arrives(seg)
                touched[id(tcb)] = tcb
            else:
                self._no_connection(seg)
        for tcb in touched.values():
            tcb.flush()

    def _drop_in(self, seg: Segment) -> bool:
        for rule in self.drop_rules:
            if rule.take(seg):
                self.stats.dropped_in += 1
                return True
        return False

    def _no_connection(self, seg: Segment) -> None:
        if self.blackhole_enabled and (self.blackhole_ports is None
                                       or seg.dport in self.blackhole_ports):
            self.stats.blackholed += 1
            return
        listener = self._listeners.get(seg.dport)
        flags = seg.flags
        if listener is not None:
            if flags & (SYN | ACK | RST) == SYN:
                if len(listener.half_open) + len(listener.queue) >= listener.backlog:
                    return
                tcb = Tcb(self, (seg.dst_ip, seg.dport), (seg.src_ip, seg.sport),
                          listener.options)
                tcb.open_passive()
                self._conns[(seg.dst_ip, seg.dport, seg.src_ip, seg.sport)] = tcb
                listener.half_open.add(id(tcb))
                tcb.segment_arrives(seg)
                tcb.flush()
                return
            if flags & RST or not flags & ACK:
                return
            self._reset_for(seg)
            return
        if not self.answer_closed_ports or flags & RST:
            return
        self._reset_for(seg)

    def _reset_for(self, seg: Segment) -> None:
        """RFC 9293 3.10.7.1: the RST a closed port (or LISTEN, for an ACK) sends."""
        if seg.flags & ACK:
            reply = Segment(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, seg.ack, 0, RST, 0)
        else:
            reply = Segment(seg.dst_ip, seg.src_ip, seg.dport, seg.sport, 0,
                            (seg.seq + seg.seg_len) & 0xFFFFFFFF, RST | ACK, 0)
        self._send_segment(reply)

    # ------------------------------------------------------------ expect
    def _log_append(self, seg: Segment) -> None:
        log = self._log
        log.append(seg)
        if len(log) > self._log_limit:
            cut = len(log) // 2
            del log[:cut]
            self._log_base += cut

    def mark(self) -> int:
        """Move the expect() cursor past everything seen so far; returns the position."""
        with self.lock:
            self.cursor = self._log_base + len(self._log)
            return self.cursor

    def segments(self, since: int = 0) -> list[Segment]:
        """Logged segments (both directions) from position `since`."""
        with self.lock:
            return list(self._log[max(since - self._log_base, 0):])

    def expect(
        self,
        pattern: SegmentPattern,
        timeout_s: float = 5.0,
        at_s: float | None = None,
        after_ns: int | None = None,
        tolerance: Tolerance | None = None,
        since: int | None = None,
        seq_base: int = 0,
        ack_base: int = 0,
        flow: Callable[[Segment], bool] | None = None,
    ) -> Match:
        """Wait for the first logged segment after the cursor that matches `pattern`.

        With `at_s`, the segment must carry a kernel timestamp within the tolerance of
        `after_ns + at_s` (after_ns defaults to the last frame the peer sent), as in
        packetdrill; otherwise it must come within `timeout_s`. Advances the cursor."""
        tol = tolerance or Tolerance()
        with self.lock:
            index = self.cursor if since is None else since
            ref_ns = after_ns if after_ns is not None else self.last_tx_ns
            if at_s is not None:
                allowed = tol.allowed_s(at_s)
                lo_ns = ref_ns + int((at_s - allowed) * 1e9)
                hi_ns = ref_ns + int((at_s + allowed) * 1e9)
                deadline_wall_ns = hi_ns + 200_000_000
            else:
                lo_ns = hi_ns = 0
                deadline_wall_ns = time.time_ns() + int(timeout_s * 1e9)
            while True:
                self._check_loop()
                start = max(index - self._log_base, 0)
                log = self._log
                for pos in range(start, len(log)):
                    seg = log[pos]
                    if (flow is None or flow(seg)) and pattern.matches(seg, seq_base, ack_base):
                        absolute = self._log_base + pos
                        self.cursor = absolute + 1
                        if at_s is not None and not lo_ns <= seg.ts_ns <= hi_ns:
                            off_s = (seg.ts_ns - ref_ns) / 1e9
                            raise ExpectError(
                                f"{seg} (frame {seg.frame_no}) came {off_s:.6f} s after the "
                                f"reference, expected {at_s:.6f} +/- {allowed:.6f} s")
                        return Match(seg, seg.ts_ns, seg.frame_no, absolute)
                index = self._log_base + len(log)
                remaining_s = (deadline_wall_ns - time.time_ns()) / 1e9
                if remaining_s <= 0:
                    when = (f"at {at_s} s +/- {tol.allowed_s(at_s)} s" if at_s is not None
                            else f"within {timeout_s} s")
                    raise ExpectError(f"no segment matching {pattern} {when}")
                self.cond.wait(min(remaining_s, 0.5))


__all__ = ["ExpectError", "Match", "Peer", "TcpError"]
