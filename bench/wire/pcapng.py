"""A minimal pcapng writer: every frame the bench sends or receives, with its kernel
timestamp in nanoseconds and its direction, numbered like Wireshark numbers frames.

Frame numbers are evidence (a report cites "frames 12-19 of case.pcapng"), so the
writer hands back the number of each frame it records. Blocks written: one Section
Header Block, one Interface Description Block (if_tsresol = 9, nanoseconds) per
interface, one Enhanced Packet Block per frame with epb_flags (1 = inbound,
2 = outbound) and an optional comment.
"""

from __future__ import annotations

import io
import struct
import threading
from pathlib import Path
from typing import BinaryIO

INBOUND = 1
OUTBOUND = 2
LINKTYPE_ETHERNET = 1

_SHB = 0x0A0D0D0A
_IDB = 0x00000001
_EPB = 0x00000006
_MAGIC = 0x1A2B3C4D

_OPT_END = 0
_OPT_COMMENT = 1
_IF_NAME = 2
_IF_TSRESOL = 9
_EPB_FLAGS = 2


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad4(value)


def _block(kind: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", kind, total) + body + struct.pack("<I", total)


class PcapngWriter:
    """Append-only pcapng file; thread-safe; frame numbers start at 1."""

    def __init__(self, path: Path | str, application: str = "hilbench") -> None:
        self.path = Path(path)
        self._file: BinaryIO = io.BufferedWriter(io.FileIO(self.path, "w"), 1 << 20)
        self._lock = threading.Lock()
        self._interfaces: dict[str, int] = {}
        self._count = 0
        shb_opts = _option(4, application.encode()) + _option(_OPT_END, b"")
        body = struct.pack("<IHHq", _MAGIC, 1, 0, -1) + shb_opts
        self._file.write(_block(_SHB, body))

    @property
    def frame_count(self) -> int:
        return self._count

    def interface(self, name: str, snaplen: int = 262144) -> int:
        """The interface id for `name`, writing its IDB on first use."""
        with self._lock:
            return self._interface_locked(name, snaplen)

    def _interface_locked(self, name: str, snaplen: int = 262144) -> int:
        if name not in self._interfaces:
            opts = (
                _option(_IF_NAME, name.encode())
                + _option(_IF_TSRESOL, bytes([9]))
                + _option(_OPT_END, b"")
            )
            body = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, snaplen) + opts
            self._file.write(_block(_IDB, body))
            self._interfaces[name] = len(self._interfaces)
        return self._interfaces[name]

    def write(
        self, frame: bytes, ts_ns: int, direction: int, ifname: str = "eth0",
        comment: str | None = None,
    ) -> int:
        """Record one frame; returns its frame number (1-based, Wireshark's numbering)."""
        with self._lock:
            if_id = self._interface_locked(ifname)
            opts = _option(_EPB_FLAGS, struct.pack("<I", direction))
            if comment:
                opts += _option(_OPT_COMMENT, comment.encode())
            opts += _option(_OPT_END, b"")
            head = struct.pack(
                "<IIIII", if_id, (ts_ns >> 32) & 0xFFFFFFFF, ts_ns & 0xFFFFFFFF,
                len(frame), len(frame),
            )
            body_len = 20 + len(frame) + (-len(frame) % 4) + len(opts)
            total = 12 + body_len
            out = self._file
            out.write(struct.pack("<II", _EPB, total))
            out.write(head)
            out.write(frame)
            out.write(b"\0" * (-len(frame) % 4))
            out.write(opts)
            out.write(struct.pack("<I", total))
            self._count += 1
            return self._count

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()
