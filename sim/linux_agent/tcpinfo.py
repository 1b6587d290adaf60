"""TCP_INFO as data: field table -> parser, plus the kernel state names of the protocol."""

from __future__ import annotations

import socket
import struct

TCP_INFO = getattr(socket, "TCP_INFO", 11)
TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)
TCP_INFO_MAX_BYTES = 512

# Kernel TCP states (include/net/tcp_states.h) -> RFC 9293 names used by the protocol.
KERNEL_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RCVD",
    4: "FIN_WAIT_1",
    5: "FIN_WAIT_2",
    6: "TIME_WAIT",
    7: "CLOSED",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "SYN_RCVD",  # TCP_NEW_SYN_RECV: a request socket
}

# (name, struct format, byte offset) of struct tcp_info (include/uapi/linux/tcp.h).
# Fields beyond what the running kernel returns are simply absent.
TCP_INFO_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("state", "B", 0),
    ("ca_state", "B", 1),
    ("retransmits", "B", 2),
    ("probes", "B", 3),
    ("backoff", "B", 4),
    ("options", "B", 5),
    ("wscale", "B", 6),
    ("rto", "I", 8),
    ("ato", "I", 12),
    ("snd_mss", "I", 16),
    ("rcv_mss", "I", 20),
    ("unacked", "I", 24),
    ("sacked", "I", 28),
    ("lost", "I", 32),
    ("retrans", "I", 36),
    ("last_data_sent", "I", 44),
    ("last_data_recv", "I", 52),
    ("last_ack_recv", "I", 56),
    ("pmtu", "I", 60),
    ("rcv_ssthresh", "I", 64),
    ("rtt", "I", 68),
    ("rttvar", "I", 72),
    ("snd_ssthresh", "I", 76),
    ("snd_cwnd", "I", 80),
    ("advmss", "I", 84),
    ("reordering", "I", 88),
    ("rcv_rtt", "I", 92),
    ("rcv_space", "I", 96),
    ("total_retrans", "I", 100),
    ("bytes_acked", "Q", 120),
    ("bytes_received", "Q", 128),
    ("segs_out", "I", 136),
    ("segs_in", "I", 140),
    ("notsent_bytes", "I", 144),
    ("min_rtt", "I", 148),
    ("bytes_sent", "Q", 200),
    ("bytes_retrans", "Q", 208),
    ("snd_wnd", "I", 228),
    ("rcv_wnd", "I", 232),
    ("total_rto", "H", 240),
)


def parse_tcp_info(raw: bytes) -> dict[str, int]:
    """Decode the fields present in a TCP_INFO buffer (its length tells the kernel's age)."""
    info: dict[str, int] = {}
    for name, fmt, offset in TCP_INFO_FIELDS:
        size = struct.calcsize(fmt)
        if offset + size <= len(raw):
            (info[name],) = struct.unpack_from("=" + fmt, raw, offset)
    if "wscale" in info:
        wscale = info.pop("wscale")
        info["snd_wscale"] = wscale & 0x0F
        info["rcv_wscale"] = wscale >> 4
    return info


def read_tcp_info(sock: socket.socket) -> dict[str, int]:
    """TCP_INFO of a live socket."""
    return parse_tcp_info(sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_MAX_BYTES))


def read_congestion(sock: socket.socket) -> str:
    """The congestion control algorithm of a socket (TCP_CONGESTION)."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def state_name(kernel_state: int) -> str:
    """RFC 9293 name of a kernel TCP state number."""
    return KERNEL_STATES.get(kernel_state, f"UNKNOWN{kernel_state}")


def stat_fields(info: dict[str, int]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """TCP_INFO as the protocol's `stat` keys (units as named there), then Linux extras.

    The extras go last so that a line at the length limit loses them first.
    """
    mss = info.get("snd_mss", 0)
    scaled = {
        "cwnd": info["snd_cwnd"] * mss if "snd_cwnd" in info else None,
        "ssthresh": _ssthresh_bytes(info.get("snd_ssthresh"), mss),
        "rto_ms": info["rto"] // 1000 if "rto" in info else None,
        "rtt_ms": info["rtt"] // 1000 if "rtt" in info else None,
    }
    core = (
        ("cwnd", None),
        ("ssthresh", None),
        ("rto_ms", None),
        ("rtt_ms", None),
        ("nrtx", "retransmits"),
        ("total_rtx", "total_retrans"),
        ("snd_wnd", "snd_wnd"),
        ("rcv_wnd", "rcv_space"),
        ("mss", "snd_mss"),
        ("rcv_mss", "rcv_mss"),
        ("snd_wscale", "snd_wscale"),
        ("rcv_wscale", "rcv_wscale"),
    )
    extra = (
        ("rtt_us", "rtt"),
        ("rcv_wnd_adv", "rcv_wnd"),
        ("backoff", "backoff"),
        ("probes", "probes"),
        ("unacked", "unacked"),
        ("total_rto", "total_rto"),
        ("bytes_retrans", "bytes_retrans"),
        ("pmtu", "pmtu"),
    )

    def pick(table: tuple[tuple[str, str | None], ...]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for key, src in table:
            value = scaled.get(key) if src is None else info.get(src)
            if value is not None:
                out.append((key, value))
        return out

    return pick(core), pick(extra)


_INFINITE_SSTHRESH = 0x7FFFFFFF


def _ssthresh_bytes(segments: int | None, mss: int) -> int | None:
    # The kernel reports "infinite" ssthresh (slow start never left) as a huge value.
    if segments is None:
        return None
    if segments >= 0xFFFF:
        return _INFINITE_SSTHRESH
    return segments * mss
