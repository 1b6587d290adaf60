"""A fast frame generator for the bridge's tests and benchmark: AF_PACKET TX ring.

Frames are written into a shared TX ring and handed to the kernel in batches by one
send() call, so Python pays a few hundred ns per frame instead of a syscall. Each frame
carries a 32-bit sequence number at a fixed payload offset, so a receiver (or the
impairment log) can say exactly which frames went missing.
"""

from __future__ import annotations

import mmap
import socket
import struct
import time

SOL_PACKET = 263
PACKET_VERSION = 10
PACKET_TX_RING = 13
PACKET_QDISC_BYPASS = 20
TPACKET_V2 = 1
TP_STATUS_AVAILABLE = 0
TP_STATUS_SEND_REQUEST = 1
TP_STATUS_WRONG_FORMAT = 4
TX_DATA_OFFSET = 32  # TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)
SEQ_OFFSET = 14 + 20 + 8  # first payload bytes of an IPv4/UDP frame


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def udp_frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, sport: int, dport: int,
              frame_bytes: int, seq: int = 0) -> bytes:
    """An Ethernet/IPv4/UDP frame of exactly `frame_bytes` (UDP checksum 0: not used)."""
    payload_len = frame_bytes - 14 - 20 - 8
    payload = struct.pack("!I", seq) + bytes(max(0, payload_len - 4))
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(payload), seq & 0xFFFF,
                     0x4000, 64, 17, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    eth = mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x08\x00"
    return eth + ip + udp + payload


class TxRing:
    """A TPACKET_V2 transmit ring on one interface."""

    def __init__(self, ifname: str, frame_size: int = 2048, frames: int = 512):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        block = 1 << 16
        per_block = block // frame_size
        blocks = max(1, frames // per_block)
        self.frame_size = frame_size
        self.frames = blocks * per_block
        self.sock.setsockopt(SOL_PACKET, PACKET_TX_RING,
                             struct.pack("IIII", block, blocks, frame_size, self.frames))
        self.ring = mmap.mmap(self.sock.fileno(), block * blocks, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        self.words = memoryview(self.ring).cast("I")
        self.sock.bind((ifname, 0))
        self.cursor = 0
        self.sent = 0

    def send(self, template: bytes, count: int, rate_fps: float | None = None,
             batch: int = 64, first_seq: int = 0, deadline_s: float = 60.0) -> int:
        """Send `count` copies of `template` numbered from `first_seq`, paced to
        `rate_fps` (None: as fast as the kernel takes them), for at most `deadline_s`.
        Returns the number of frames handed to the kernel."""
        words, ring, size = self.words, self.ring, self.frame_size
        length = len(template)
        start = time.monotonic()
        stop = start + deadline_s
        queued = 0
        seq = first_seq
        while queued < count and time.monotonic() < stop:
            if rate_fps:
                due = start + queued / rate_fps
                while (now := time.monotonic()) < due:
                    if due - now > 0.0005:
                        time.sleep(due - now - 0.0003)
            n = 0
            while n < batch and queued + n < count:
                offset = self.cursor * size
                status = words[offset >> 2]
                if status != TP_STATUS_AVAILABLE:
                    if status & TP_STATUS_WRONG_FORMAT:
                        raise OSError(f"TX ring rejected frame at slot {self.cursor}")
                    break  # ring full: flush what we have
                data = offset + TX_DATA_OFFSET
                ring[data:data + length] = template
                struct.pack_into("!I", ring, data + SEQ_OFFSET, seq & 0xFFFFFFFF)
                words[(offset >> 2) + 1] = length  # tp_len
                words[offset >> 2] = TP_STATUS_SEND_REQUEST
                seq += 1
                n += 1
                self.cursor = (self.cursor + 1) % self.frames
            queued += n
            try:
                self.sock.send(b"", socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass
            if n == 0:
                time.sleep(0.0001)
        self._wait_drained()
        self.sent += queued
        return queued

    def _wait_drained(self, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self.words[(i * self.frame_size) >> 2] == TP_STATUS_AVAILABLE
                   for i in range(self.frames)):
                return
            try:
                self.sock.send(b"", socket.MSG_DONTWAIT)
            except BlockingIOError:
                pass
            time.sleep(0.001)

    def close(self) -> None:
        self.words.release()
        self.ring.close()
        self.sock.close()
