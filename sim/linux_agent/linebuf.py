"""Console byte stream -> request lines, bounded so line noise cannot grow memory."""

from __future__ import annotations

from .protocol import MAX_REQUEST_BYTES


class LineReader:
    """Split console input at `\\n`; an over-long line is cut short but still yields once.

    Why the cut: the request parser must still see that the line was too long (and
    answer `ERR EINVAL` exactly once), without the agent buffering unbounded garbage.
    """

    def __init__(self, limit: int = MAX_REQUEST_BYTES) -> None:
        self._limit = limit + 1  # room for a trailing \r
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete lines (without `\\n`)."""
        lines: list[bytes] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            self._append(piece)
            if end < 0:
                return lines
            lines.append(self._take())
            start = end + 1

    def _append(self, piece: bytes) -> None:
        # Keep one byte beyond the limit: enough for the parser to see "too long".
        room = self._limit + 1 - len(self._buf)
        self._buf += piece[: max(room, 0)]

    def _take(self) -> bytes:
        line = bytes(self._buf)
        self._buf.clear()
        return line
