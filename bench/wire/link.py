"""One lab interface as the reference peer sees it: an AF_PACKET socket in the
interface's namespace, kernel timestamps on every frame in and out, a BPF filter, and
a pcapng record of everything sent and received.

Timestamps are the kernel's software timestamps (CLOCK_REALTIME, ns): on receive from
SO_TIMESTAMPING RX_SOFTWARE, on send from TX_SOFTWARE read back from the socket's error
queue (on veth the kernel stamps in veth_xmit, synchronously inside send()). Python's
clock never stands in for either.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.lab import netns
from bench.wire import bpf, sockopt
from bench.wire.pcapng import INBOUND, OUTBOUND, PcapngWriter

_WARMUP_S = 0.05  # the kernel enables RX timestamping through deferred work
_TX_TS_GIVEUP_NS = 1_000_000_000
_SIOCGIFINDEX = 0x8933


@dataclass(frozen=True, slots=True)
class RxFrame:
    """A frame the peer received: bytes, kernel RX timestamp (ns), pcap frame number."""

    data: bytes
    ts_ns: int
    frame_no: int


@dataclass(slots=True)
class TxFrame:
    """A frame the peer sent; ts_ns and frame_no are 0 until the kernel stamp is read."""

    data: bytes
    ts_ns: int = 0
    frame_no: int = 0
    comment: str | None = None
    queued_ns: int = field(default_factory=time.monotonic_ns)
    key: int = -1  # the kernel's number for this send (SOF_TIMESTAMPING_OPT_ID)


@dataclass
class LinkStats:
    rx_frames: int = 0
    tx_frames: int = 0
    rx_missing_ts: int = 0
    tx_missing_ts: int = 0


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", "").replace("-", ""))


class Link:
    """The peer's packet socket on `ifname` inside namespace `ns`.

    `sources`, when given, are the only senders whose IPv4 frames are received (the DUT
    under test). `networks` are the destination networks the filter lets through (the peer's own
    address as /32 and any range it spoofs from). Thread-safe: send() and receive()
    serialise on one lock so TX timestamps pair with their frames in order."""

    def __init__(
        self,
        ns: str,
        ifname: str,
        mac: str,
        networks: Sequence[str],
        pcap: PcapngWriter | None = None,
        rcvbuf_bytes: int = 32 << 20,
        sources: Sequence[str] = (),
    ) -> None:
        self.ns = ns
        self.sources = list(sources)
        self.ifname = ifname
        self.mac = mac_bytes(mac)
        self.pcap = pcap
        self.stats = LinkStats()
        self._lock = threading.Lock()
        self._pending: deque[TxFrame] = deque()
        self._tx_sent = 0  # sends so far: the OPT_ID key the kernel gives the next one
        self._backlog: deque[RxFrame] = deque()
        self.on_backlog: Callable[[], None] | None = None
        sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            bpf.attach(sock, bpf.drop_all())
            sockopt.set_buffers(sock, rcvbuf_bytes, 4 << 20)
            sockopt.ignore_outgoing(sock)
            sockopt.enable_timestamps(sock, sockopt.RX_FLAGS | sockopt.TX_FLAGS)
            sock.bind((ifname, sockopt.ETH_P_ALL))
            sockopt.set_promiscuous(sock, ifindex(sock, ifname))
            _drain(sock)
            bpf.attach(sock, bpf.ipv4_filter(networks, src_networks=self.sources))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        time.sleep(_WARMUP_S)

    def set_networks(self, networks: Sequence[str]) -> None:
        """Receive frames to `networks` from now on (still only from `sources`)."""
        bpf.attach(self.sock, bpf.ipv4_filter(networks, src_networks=self.sources))

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, frame: bytes, comment: str | None = None) -> TxFrame:
        """Put `frame` on the wire; its kernel TX timestamp and pcap number are filled in
        before this returns when the driver stamps synchronously (veth does)."""
        record = TxFrame(frame, comment=comment)
        woke = False
        with self._lock:
            self.sock.send(frame)
            record.key = self._tx_sent & 0xFFFFFFFF
            self._tx_sent += 1
            self.stats.tx_frames += 1
            self._pending.append(record)
            # Frames that arrived before this one left are recorded before it, so the
            # pcap is in wire (kernel timestamp) order; they wait in the backlog.
            arrived = self._read_locked(256)
            if arrived:
                self._collect_tx_locked(before=arrived)
                woke = True
            else:
                self._collect_tx_locked()
        if woke and self.on_backlog is not None:
            self.on_backlog()
        return record

    @property
    def has_backlog(self) -> bool:
        return bool(self._backlog)

    def receive(self, max_frames: int = 256) -> list[RxFrame]:
        """Every frame queued on the socket (up to `max_frames`), without blocking."""
        with self._lock:
            if self._pending:
                self._collect_tx_locked()
            out = list(self._backlog)
            self._backlog.clear()
            if len(out) < max_frames:
                out.extend(self._record_rx(self._read_locked(max_frames - len(out))))
        return out

    def _read_locked(self, max_frames: int) -> list[tuple[bytes, int]]:
        """Up to `max_frames` queued frames with their RX timestamps (not yet recorded)."""
        got: list[tuple[bytes, int]] = []
        sock = self.sock
        for _ in range(max_frames):
            try:
                data, anc, _flags, _addr = sock.recvmsg(65536, 256)
            except BlockingIOError:
                break
            ts_ns = sockopt.timestamp_ns(anc)
            if not ts_ns:
                self.stats.rx_missing_ts += 1
            got.append((data, ts_ns))
        self.stats.rx_frames += len(got)
        return got

    def _record_rx(self, frames: list[tuple[bytes, int]]) -> list[RxFrame]:
        out = []
        for data, ts_ns in frames:
            number = 0
            if self.pcap is not None:
                number = self.pcap.write(data, ts_ns, INBOUND, self.ifname)
            out.append(RxFrame(data, ts_ns, number))
        return out

    def _collect_tx_locked(self, before: list[tuple[bytes, int]] | None = None) -> None:
        """Read TX stamps; `before` are received frames to record (and backlog) in
        timestamp order with the sent ones."""
        rx = deque(before or ())
        while self._pending:
            try:
                _data, anc, _flags, _addr = self.sock.recvmsg(64, 512, socket.MSG_ERRQUEUE)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    break
                raise
            ts_ns = sockopt.timestamp_ns(anc)
            key = sockopt.tx_key(anc)
            if not ts_ns:
                continue
            # A stamp belongs to the send with its OPT_ID key, never to the next in line:
            # a stamp for a frame already given up on (or stamped twice, as veth does for
            # ARP replies) is dropped instead of shifting every later stamp by one.
            record = self._pending_for(key) if key is not None else self._pending.popleft()
            if record is None:
                continue
            while rx and rx[0][1] <= ts_ns:
                self._backlog.extend(self._record_rx([rx.popleft()]))
            self._record_tx(record, ts_ns)
        # A stamp that never comes (link down): record the frame anyway, flagged.
        now = time.monotonic_ns()
        while self._pending and now - self._pending[0].queued_ns > _TX_TS_GIVEUP_NS:
            self.stats.tx_missing_ts += 1
            self._record_tx(self._pending.popleft(), 0)
        if rx:
            self._backlog.extend(self._record_rx(list(rx)))

    def _pending_for(self, key: int) -> TxFrame | None:
        """Take the pending send stamped `key`; sends before it whose stamps were skipped
        by the kernel are recorded without one (counted in tx_missing_ts)."""
        while self._pending:
            head = self._pending[0]
            ahead = (key - head.key) & 0xFFFFFFFF
            if ahead == 0:
                return self._pending.popleft()
            if ahead >= 1 << 31:  # the stamp is older than every pending send
                return None
            self.stats.tx_missing_ts += 1
            self._record_tx(self._pending.popleft(), 0)
        return None

    def _record_tx(self, record: TxFrame, ts_ns: int) -> None:
        record.ts_ns = ts_ns
        if self.pcap is not None:
            record.frame_no = self.pcap.write(
                record.data, ts_ns, OUTBOUND, self.ifname, record.comment
            )

    def close(self) -> None:
        with self._lock:
            self.sock.close()


def ifindex(sock: socket.socket, ifname: str) -> int:
    """The index of `ifname` in the namespace `sock` lives in (SIOCGIFINDEX on it)."""
    req = struct.pack("16si", ifname.encode(), 0)
    return struct.unpack("16si", fcntl.ioctl(sock.fileno(), _SIOCGIFINDEX, req))[1]


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    while True:
        try:
            sock.recv(65536)
        except BlockingIOError:
            return
