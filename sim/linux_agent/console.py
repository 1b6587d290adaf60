"""The agent's serial console: a raw pseudo-terminal it owns, like a board's UART."""

from __future__ import annotations

import errno
import os
import tty
from pathlib import Path

# A UART with nobody listening loses output; so does this console beyond this backlog.
MAX_BACKLOG_BYTES = 1 << 20


class PtyConsole:
    """Master side of a pty pair; clients open the slave path written to the pty file.

    The agent keeps a slave fd open itself so the master never sees EIO/HUP while no
    client is attached (a client closing the port must not end the agent's console).
    """

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing, no output translation
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._out = bytearray()

    def publish(self, pty_file: Path) -> None:
        """Write the slave path to `pty_file` atomically (readers never see half a path)."""
        tmp = pty_file.with_name(f".{pty_file.name}.{os.getpid()}.tmp")
        tmp.write_text(self.path + "\n")
        os.replace(tmp, pty_file)

    def read(self) -> bytes:
        """Whatever the client wrote; b'' when nothing is there."""
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no slave open: cannot happen while we hold one
                return b""
            raise

    def queue(self, line: str) -> None:
        """Queue one output line (`\\n` terminated, raw: no CR translation)."""
        self._out += line.encode("ascii", "replace") + b"\n"
        if len(self._out) > MAX_BACKLOG_BYTES:
            cut = self._out.find(b"\n", len(self._out) - MAX_BACKLOG_BYTES)
            del self._out[: cut + 1]

    def flush(self) -> bool:
        """Write as much queued output as the pty takes; True while output remains."""
        while self._out:
            try:
                n = os.write(self.master, self._out)
            except BlockingIOError:
                return True
            del self._out[:n]
        return False

    def close(self) -> None:
        """Release both ends of the pty."""
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
