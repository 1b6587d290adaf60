"""One interface of the bridge: an AF_PACKET socket with a TPACKET_V2 receive ring.

The ring is shared memory, so receiving costs no syscall per frame and every frame
carries the kernel's receive timestamp. The socket ignores its own transmissions
(PACKET_IGNORE_OUTGOING) and puts the interface in promiscuous mode through a packet
membership, which the kernel drops when the socket closes (no state left behind).
"""

from __future__ import annotations

import mmap
import socket
import struct

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_TX_RING = 13
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_QDISC_BYPASS = 20
PACKET_IGNORE_OUTGOING = 23
TPACKET_V2 = 1
SO_RCVBUFFORCE = 33
ETH_P_ALL = 0x0003

TP_STATUS_USER = 0x1
TP_STATUS_AVAILABLE = 0x0
TP_STATUS_SEND_REQUEST = 0x1
TX_DATA_OFFSET = 32  # TPACKET2_HDRLEN - sizeof(struct sockaddr_ll)
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40

# struct tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec, vlan_tci, vlan_tpid
TPACKET2_HDR = struct.Struct("=IIIHHIIHH")


def _frame_size(mtu: int) -> int:
    need = mtu + 14 + 4 + 96  # Ethernet + VLAN + ring header and alignment
    size = 2048
    while size < need:
        size *= 2
    return size


class RingPort:
    """Receive ring + transmit ring on one interface (the bridge's two sides).

    Transmission writes frames into the TX ring and `flush()` hands every written
    frame to the kernel with one send(), so a batch costs one syscall.
    """

    def __init__(self, ifname: str, mtu: int = 1500, ring_frames: int = 4096,
                 rcvbuf_bytes: int = 8 << 20, tx_frames: int = 1024, tx_ring: bool = False):
        self.ifname = ifname
        self.frame_size = _frame_size(mtu)
        block_size = max(self.frame_size, 1 << 16)
        per_block = block_size // self.frame_size
        blocks = max(1, -(-ring_frames // per_block))
        self.frame_nr = blocks * per_block
        # Protocol 0: nothing is queued until bind(), after the ring exists.
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sock = self.sock
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        # The bridge is the link's only queue: frames go straight to the driver.
        sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf_bytes)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING,
                        struct.pack("IIII", block_size, blocks, self.frame_size, self.frame_nr))
        # With a TX ring, send() only flushes the ring (a frame passed to it is ignored).
        tx_blocks = max(1, -(-tx_frames // per_block)) if tx_ring else 0
        self.tx_nr = tx_blocks * per_block
        if tx_ring:
            sock.setsockopt(SOL_PACKET, PACKET_TX_RING, struct.pack(
                "IIII", block_size, tx_blocks, self.frame_size, self.tx_nr))
        # One mapping: the RX ring first, then the TX ring.
        self.ring = mmap.mmap(sock.fileno(), block_size * (blocks + tx_blocks),
                              mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.view = memoryview(self.ring)  # frame bytes, sliced without copying
        self.status = self.view.cast("I")  # status word of slot i: [i*fs//4]
        self.tx_ring = tx_ring
        self.tx_base = block_size * blocks
        self.tx_cursor = 0
        self.tx_pending = 0
        self.max_frame = self.frame_size - TX_DATA_OFFSET
        if not tx_ring:
            self.send = self._send_direct  # type: ignore[method-assign]
        sock.bind((ifname, ETH_P_ALL))
        # A TX ring slot stays taken until the kernel frees the skb built on it, and a
        # receiver that queues frames (a TCP receive buffer behind a veth) can hold
        # thousands: then a frame is copied out through this plain socket instead.
        self.plain = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.plain.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        self.plain.bind((ifname, 0))
        self.tx_copied = 0
        ifindex = socket.if_nametoindex(ifname)
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP,
                        struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b""))
        self.cursor = 0
        self.rx_frames = 0
        self.tx_frames = 0
        self.tx_errors = 0
        self.truncated = 0
        self._kernel_drops = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, frame: bytes) -> None:
        """Queue `frame` in the TX ring; it leaves at the next `flush()`."""
        offset = self.tx_base + self.tx_cursor * self.frame_size
        word = offset >> 2
        length = len(frame)
        if self.status[word] != TP_STATUS_AVAILABLE or length > self.max_frame:
            self.send_copy(frame)
            return
        data = offset + TX_DATA_OFFSET
        self.ring[data:data + length] = frame
        self.status[word + 1] = length  # tp_len
        self.status[word] = TP_STATUS_SEND_REQUEST
        self.tx_cursor = self.tx_cursor + 1 if self.tx_cursor + 1 < self.tx_nr else 0
        self.tx_pending += 1
        if self.tx_pending >= 32:  # bound the latency a batch adds
            self.flush()

    def _send_direct(self, frame: bytes) -> None:
        """One send() per frame: no batching, lowest latency when traffic is sparse."""
        try:
            self.sock.send(frame)
            self.tx_frames += 1
        except OSError:
            self.tx_errors += 1

    def flush(self) -> None:
        """Hand every queued frame to the kernel (one syscall)."""
        if not self.tx_pending:
            return
        try:
            self.sock.send(b"", socket.MSG_DONTWAIT)
        except BlockingIOError:
            pass
        except OSError:
            self.tx_errors += 1
        self.tx_frames += self.tx_pending
        self.tx_pending = 0

    def send_copy(self, frame: bytes | memoryview) -> None:
        """Send one frame outside the ring (its next slot is still taken), in order:
        the frames already written to the ring leave first."""
        self.flush()
        try:
            self.plain.send(frame)
            self.tx_frames += 1
            self.tx_copied += 1
        except OSError:
            self.tx_errors += 1

    def kernel_drops(self) -> int:
        """Frames the kernel dropped because the ring was full (cumulative)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        _packets, drops = struct.unpack("II", raw)  # reading resets the kernel's counters
        self._kernel_drops += drops
        return self._kernel_drops

    def counters(self) -> dict[str, int]:
        return {"rx_frames": self.rx_frames, "tx_frames": self.tx_frames,
                "tx_errors": self.tx_errors, "tx_copied": self.tx_copied,
                "truncated": self.truncated,
                "ring_drops": self.kernel_drops()}

    def close(self) -> None:
        self.status.release()
        self.view.release()
        self.ring.close()
        self.sock.close()
        self.plain.close()


def vlan_reinserted(frame: bytes, status: int, tci: int, tpid: int) -> bytes:
    """Put back an 802.1Q tag that the NIC stripped into the ring header."""
    if not status & TP_STATUS_VLAN_TPID_VALID:
        tpid = 0x8100
    return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]
