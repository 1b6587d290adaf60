"""The impairment log: one JSON object per line, evidence next to the run's pcaps.

Packet records say which frame (direction, per-direction frame index, IPv4 id, TCP
seq/flags/payload length), which rule and what action, at the frame's kernel arrival
time. Bridge records (`"event": ...`) mark start, rule changes and stop, so a reader can
tell which rules were in force for each packet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO


class EventLog:
    """Buffered JSON-lines writer; `flush` is called by the owner's loop when idle."""

    def __init__(self, path: str | Path | None):
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None
        self._pending: list[str] = []
        self.records = 0

    def packet(self, record: dict[str, Any]) -> None:
        """Sink for `Pipeline` events."""
        self.records += 1
        if self._file is not None:
            self._pending.append(json.dumps(record, separators=(",", ":")))

    def event(self, name: str, **fields: Any) -> None:
        """A bridge-level record (start, rules, stop), written at once."""
        self.packet({"t_ns": time.time_ns(), "event": name, **fields})
        self.flush()

    def flush(self) -> None:
        if self._pending and self._file is not None:
            self._file.write("\n".join(self._pending) + "\n")
            self._file.flush()
            self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """All records of a log file (for tests, measurements and reports)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
