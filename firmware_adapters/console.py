"""A console line channel over any pyserial URL, with a continuous timestamped log.

Everything read is logged the moment it arrives, including a partial line left when a
wait times out, so nothing the DUT said is ever lost from the evidence.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import serial

from firmware_adapters.errors import ConsoleUnavailable


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ConsoleLog:
    """Append-only log: `<stamp> <dir> <text>`, dir `>` to the DUT, `<` from it, `~` partial."""

    def __init__(self, path: Path | None):
        self.path = path
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", buffering=1, encoding="utf-8", errors="replace")

    def write(self, direction: str, text: str) -> None:
        if self._file is not None:
            self._file.write(f"{utc_stamp()} {direction} {text}\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ConsoleChannel:
    """Lines in and out of one console; `read_line` waits at most until a deadline."""

    def __init__(self, dut: str, url: str, baud: int = 115200, log: ConsoleLog | None = None):
        self.dut = dut
        self.url = url
        self.log = log or ConsoleLog(None)
        self._buffer = bytearray()
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            reason = str(exc).split("\n")[0]
            raise ConsoleUnavailable(dut, f"cannot open console {url}: {reason}") from None

    def write_line(self, text: str) -> None:
        self.log.write(">", text)
        try:
            self._port.write(text.encode() + b"\n")
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise ConsoleUnavailable(self.dut, f"console {self.url} write failed: {exc}") from None

    def read_line(self, deadline: float) -> str | None:
        """The next complete line, or None at the deadline (time.monotonic)."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                raw = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                text = raw.decode("utf-8", errors="replace").rstrip("\r")
                self.log.write("<", text)
                return text
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if self._buffer:
                    self.log.write("~", self._buffer.decode("utf-8", errors="replace"))
                return None
            self._port.timeout = min(remaining, 0.05)
            try:
                chunk = self._port.read(max(1, self._port.in_waiting or 1))
            except (serial.SerialException, OSError) as exc:
                raise ConsoleUnavailable(self.dut,
                                         f"console {self.url} read failed: {exc}") from None
            if chunk:
                self._buffer += chunk

    def pending_text(self) -> str:
        """A partial line not yet terminated (for error messages)."""
        return self._buffer.decode("utf-8", errors="replace")

    def drain(self, quiet_s: float = 0.05) -> list[str]:
        """Read and return every line that arrives until the console is quiet."""
        lines = []
        while (line := self.read_line(time.monotonic() + quiet_s)) is not None:
            lines.append(line)
        return lines

    def close(self) -> None:
        try:
            self._port.close()
        finally:
            self.log.close()
