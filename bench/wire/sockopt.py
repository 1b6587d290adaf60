"""Linux socket constants and ancillary-data parsing for AF_PACKET with kernel timestamps.

Python's socket module lacks most of these (SO_TIMESTAMPING, PACKET_IGNORE_OUTGOING ...),
so they are spelled out here once, with the kernel header they come from.
"""

from __future__ import annotations

import socket
import struct

# <asm-generic/socket.h>
SO_ATTACH_FILTER = 26
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
SO_TIMESTAMPING = 37  # SO_TIMESTAMPING_OLD: struct timespec (64-bit on x86_64/arm64)
SCM_TIMESTAMPING = SO_TIMESTAMPING

# <linux/net_tstamp.h>
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_ID = 1 << 7
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11

# <linux/if_packet.h>
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_TX_TIMESTAMP = 16
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806

_TIMESPEC = struct.Struct("qq")
_EXTENDED_ERR = struct.Struct("IBBBBII")  # <linux/errqueue.h> struct sock_extended_err

RX_FLAGS = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE
# OPT_ID numbers each sent frame (ee_data), so a frame stamped twice is recognised.
TX_FLAGS = (SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE
            | SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_ID)


def timestamp_ns(ancdata: list[tuple[int, int, bytes]]) -> int:
    """The software timestamp (ns since the epoch, CLOCK_REALTIME) in a cmsg list, or 0.

    0 means the kernel attached no timestamp: that happens for a few frames right after
    timestamping is first enabled (the kernel turns it on through deferred work)."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPING and len(data) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(data, 0)
            return sec * 1_000_000_000 + nsec
    return 0


def tx_key(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The OPT_ID key of a TX stamp (the frame's number on the socket), or None."""
    for level, kind, data in ancdata:
        if level == SOL_PACKET and kind == PACKET_TX_TIMESTAMP and len(data) >= 16:
            return int(_EXTENDED_ERR.unpack_from(data, 0)[6])
    return None


def enable_timestamps(sock: socket.socket, flags: int) -> None:
    """Ask the kernel for software timestamps on `sock` (RX, TX or both)."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, flags)


def ignore_outgoing(sock: socket.socket) -> None:
    """Do not loop the host's own transmitted frames back into this packet socket."""
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)


def set_promiscuous(sock: socket.socket, ifindex: int) -> None:
    """Receive frames for MACs other than the interface's own (the peer's MAC)."""
    mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)


def set_buffers(sock: socket.socket, rcvbuf_bytes: int, sndbuf_bytes: int) -> None:
    """Big kernel buffers so bursts from the DUT are not dropped while Python is busy."""
    for force, plain, size in (
        (SO_RCVBUFFORCE, socket.SO_RCVBUF, rcvbuf_bytes),
        (SO_SNDBUFFORCE, socket.SO_SNDBUF, sndbuf_bytes),
    ):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, plain, size)
