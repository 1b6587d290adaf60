"""The bridge's control socket: a unix stream socket, one JSON object per line each way.

Requests: {"op": "ping"}, {"op": "set", "rules": {...}}, {"op": "show"},
{"op": "clear"}, {"op": "stop"}. Replies: {"ok": true, ...} or
{"ok": false, "error": "<one line>"}. The server is polled by the bridge's own loop
(no thread), so a rule change takes effect between two batches of frames.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlError(RuntimeError):
    """The bridge could not be reached or refused a request; message is for the user."""


class ControlServer:
    """Accepts clients and answers their request lines through `handler`."""

    def __init__(self, path: str | Path, handler: Handler):
        self.path = Path(path)
        self.handler = handler
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            if _alive(self.path):
                raise ControlError(f"{self.path}: another impairment bridge is listening")
            self.path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.clients: dict[int, tuple[socket.socket, bytearray]] = {}

    def fds(self) -> list[int]:
        return [self.listener.fileno(), *self.clients]

    def service(self, ready: list[int]) -> None:
        """Handle whatever is readable among `ready` (the listener or clients)."""
        for fd in ready:
            if fd == self.listener.fileno():
                self._accept()
            elif fd in self.clients:
                self._read(fd)

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            conn, _ = self.listener.accept()
            conn.setblocking(False)
            self.clients[conn.fileno()] = (conn, bytearray())

    def _read(self, fd: int) -> None:
        conn, buf = self.clients[fd]
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return
        buf.extend(data)
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            buf[:] = rest
            reply = self._answer(line)
            try:
                conn.setblocking(True)
                conn.sendall(json.dumps(reply).encode() + b"\n")
                conn.setblocking(False)
            except OSError:
                self._drop(fd)
                return

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or "op" not in request:
                raise ValueError("a request is a JSON object with an 'op' field")
        except ValueError as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        try:
            return self.handler(request)
        except Exception as exc:  # a bad request must never stop the bridge
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def _drop(self, fd: int) -> None:
        conn, _ = self.clients.pop(fd)
        conn.close()

    def close(self) -> None:
        for fd in list(self.clients):
            self._drop(fd)
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def request(path: str | Path, message: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one request to the bridge at `path` and return its reply."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(os.fspath(path))
        except OSError as exc:
            raise ControlError(f"cannot reach the impairment bridge at {path}: "
                               f"{exc.strerror or exc}") from None
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ControlError(f"the impairment bridge at {path} closed the connection")
            data.extend(chunk)
    except TimeoutError:
        raise ControlError(f"the impairment bridge at {path} did not answer in time") from None
    finally:
        sock.close()
    return json.loads(data)
