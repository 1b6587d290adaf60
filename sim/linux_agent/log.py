"""The agent's own timestamped log of every request, reply and event (console evidence)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO


class ConsoleLog:
    """Append-only log; a no-op without a path."""

    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = (
            open(path, "a", buffering=1, encoding="ascii", errors="replace") if path else None
        )

    def write(self, direction: str, line: str) -> None:
        """`direction`: `>` for requests, `<` for replies and events, `#` for notes."""
        if self._file is None:
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        self._file.write(f"{stamp}.{int(now * 1000) % 1000:03d}Z {direction} {line}\n")

    def close(self) -> None:
        """Flush and close the log file."""
        if self._file is not None:
            self._file.close()
            self._file = None
