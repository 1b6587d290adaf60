"""Per-socket bookkeeping of the agent: TCP connections, listeners and UDP ports.

Pure data and byte accounting (what to write next, what a read means for the counters);
the socket I/O itself lives in `stack`.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from dataclasses import dataclass, field

from .pattern import CHUNK_BYTES, count_mismatches, pattern_bytes

Endpoint = tuple[str, int]
ECHO_BACKLOG_BYTES = 256 * 1024


@dataclass
class SendMark:
    """One `send` request: done when the stream is acknowledged up to `tx_end`."""

    pattern_end: int
    nbytes: int
    tx_end: int | None = None


@dataclass
class Conn:
    """One TCP connection the agent owns (an `id=`)."""

    id: int
    sock: socket.socket
    mode: str
    lid: int | None = None
    local: Endpoint = ("0.0.0.0", 0)
    remote: Endpoint = ("0.0.0.0", 0)
    created: float = field(default_factory=time.monotonic)
    connecting: bool = False
    peer_closed: bool = False
    shut_requested: bool = False
    shut_done: bool = False
    close_requested: bool = False
    tx_bytes: int = 0
    pattern_queued: int = 0
    pattern_written: int = 0
    rx_bytes: int = 0
    rx_bad: int = 0
    echo_buf: bytearray = field(default_factory=bytearray)
    marks: deque[SendMark] = field(default_factory=deque)
    events: int = 0  # selector interest currently registered

    def age_ms(self) -> int:
        """Milliseconds since the agent created or accepted the connection."""
        return int((time.monotonic() - self.created) * 1000)

    def queue_pattern(self, nbytes: int) -> None:
        """Queue `nbytes` more pattern bytes (one `send`)."""
        self.pattern_queued += nbytes
        self.marks.append(SendMark(self.pattern_queued, nbytes))

    def has_output(self) -> bool:
        """Bytes the agent still has to hand to the kernel."""
        return bool(self.echo_buf) or self.pattern_written < self.pattern_queued

    def next_chunk(self) -> tuple[bytes, bool]:
        """The next bytes to write and whether they are pattern bytes (echo goes first)."""
        if self.echo_buf:
            return bytes(self.echo_buf[:CHUNK_BYTES]), False
        n = min(CHUNK_BYTES, self.pattern_queued - self.pattern_written)
        return pattern_bytes(self.tx_bytes, n), True

    def wrote(self, nbytes: int, is_pattern: bool) -> None:
        """Account for `nbytes` the kernel accepted from the last chunk."""
        self.tx_bytes += nbytes
        if not is_pattern:
            del self.echo_buf[:nbytes]
            return
        self.pattern_written += nbytes
        for mark in self.marks:
            if mark.tx_end is None and self.pattern_written >= mark.pattern_end:
                mark.tx_end = self.tx_bytes - (self.pattern_written - mark.pattern_end)

    def received(self, data: bytes) -> None:
        """Account for bytes read, per the rx mode."""
        if self.mode == "check":
            self.rx_bad += count_mismatches(self.rx_bytes, data)
        elif self.mode == "echo":
            self.echo_buf += data
        self.rx_bytes += len(data)

    def wants_read(self) -> bool:
        """Read unless holding, after the peer's FIN, or while echo output is backed up."""
        return (
            self.mode != "hold"
            and not self.peer_closed
            and not self.close_requested
            and len(self.echo_buf) < ECHO_BACKLOG_BYTES
        )

    def acked_marks(self, acked_offset: int) -> list[SendMark]:
        """Pop the sends whose every byte is acknowledged at stream offset `acked_offset`."""
        done: list[SendMark] = []
        while self.marks and self.marks[0].tx_end is not None:
            if self.marks[0].tx_end > acked_offset:
                break
            done.append(self.marks.popleft())
        return done


@dataclass
class Listener:
    """A listening TCP socket (an `lid=`)."""

    lid: int
    sock: socket.socket
    port: int
    mode: str


@dataclass
class UdpPort:
    """A bound UDP socket and its counters."""

    port: int
    sock: socket.socket
    mode: str
    rx_dgrams: int = 0
    rx_bytes: int = 0
    tx_dgrams: int = 0
