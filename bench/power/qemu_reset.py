"""Power for an emulated board: QEMU's monitor (QMP) stands in for the supply.

`resource: "qmp:/run/hilbench/<dut>.qmp.sock"` names QEMU's `-qmp unix:...,server`
socket. off = `stop` (the CPU freezes, like a board without power keeps no time),
on = `cont`, cycle = stop, wait, `system_reset`, cont. There is no rail to measure or
set, so readings are None and setpoints are accepted and ignored.

Each command opens its own QMP connection: QEMU serves one client per socket, and a
connection held open would lock out the lab's own monitor use.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

from bench.inventory.models import Power
from bench.power.base import ContextManaged, SupplyError, register_driver

log = logging.getLogger(__name__)

QMP_SCHEME = "qmp:"
DEFAULT_TIMEOUT_S = 5.0
# Events (RESET, STOP, RESUME ...) may arrive before a reply; bound how many we skip.
_MAX_EVENTS = 64


class QmpSession:
    """One negotiated QMP connection: greeting, `qmp_capabilities`, then commands."""

    def __init__(self, socket_path: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self.greeting: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._file: Any = None

    def __enter__(self) -> QmpSession:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise SupplyError(f"qmp:{self.socket_path}: cannot connect: {exc}") from exc
        self._sock = sock
        self._file = sock.makefile("rwb")
        try:
            self.greeting = self._read_message()
            if "QMP" not in self.greeting:
                raise SupplyError(f"qmp:{self.socket_path}: no QMP greeting: {self.greeting}")
            self.execute("qmp_capabilities")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in (self._file, self._sock):
            if handle is not None:
                try:
                    handle.close()
                except OSError:
                    pass
        self._file, self._sock = None, None

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Send one command and return its `return` value; a QMP error raises."""
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        try:
            self._file.write(json.dumps(request).encode() + b"\r\n")
            self._file.flush()
        except OSError as exc:
            raise SupplyError(f"qmp:{self.socket_path}: send {command}: {exc}") from exc
        for _ in range(_MAX_EVENTS):
            reply = self._read_message()
            if "event" in reply:
                log.debug("qmp:%s: event %s", self.socket_path, reply.get("event"))
                continue
            if "error" in reply:
                error = reply["error"]
                raise SupplyError(
                    f"qmp:{self.socket_path}: {command} failed: "
                    f"{error.get('class', '?')}: {error.get('desc', '')}"
                )
            if "return" in reply:
                return reply["return"]
            raise SupplyError(f"qmp:{self.socket_path}: {command}: unexpected reply {reply}")
        raise SupplyError(f"qmp:{self.socket_path}: {command}: only events, no reply")

    def _read_message(self) -> dict[str, Any]:
        try:
            line = self._file.readline()
        except (TimeoutError, OSError) as exc:
            raise SupplyError(
                f"qmp:{self.socket_path}: no answer within {self.timeout_s} s ({exc})"
            ) from exc
        if not line:
            raise SupplyError(f"qmp:{self.socket_path}: QEMU closed the connection")
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise SupplyError(f"qmp:{self.socket_path}: not JSON: {line[:80]!r}") from exc
        if not isinstance(message, dict):
            raise SupplyError(f"qmp:{self.socket_path}: not a QMP object: {line[:80]!r}")
        return message


def qmp_socket_path(resource: str) -> str:
    """The socket path in `qmp:/path/to.sock`, or an error naming the resource."""
    if not resource.startswith(QMP_SCHEME) or len(resource) == len(QMP_SCHEME):
        raise SupplyError(
            f"power resource {resource!r} is not a QMP socket (expected 'qmp:/path/to.sock')"
        )
    return resource[len(QMP_SCHEME) :]


@register_driver("qemu-qmp")
class QemuQmpPower(ContextManaged):
    """An emulated board's "supply": run state and reset through QEMU's monitor."""

    def __init__(
        self,
        power: Power,
        resource_manager: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.power = power
        self.socket_path = qmp_socket_path(power.resource)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    def open(self) -> None:
        """Check QEMU answers; nothing stays connected (see the module docstring)."""
        self.is_on()

    def close(self) -> None:
        pass

    def on(self) -> None:
        self._run("cont")

    def off(self) -> None:
        self._run("stop")

    def cycle(self, off_s: float = 1.0) -> None:
        """Frozen for `off_s`, then reset and running: ends ON like a supply cycle."""
        self._run("stop")
        time.sleep(off_s)
        self._run("system_reset", "cont")

    def is_on(self) -> bool:
        status = self._run("query-status")
        return bool(status.get("running")) if isinstance(status, dict) else False

    def measure_current_a(self) -> float | None:
        return None

    def measure_voltage_v(self) -> float | None:
        return None

    def set_voltage(self, volts: float) -> None:
        log.debug("%s: no rail to set to %s V on an emulated board", self.power.resource, volts)

    def set_current_limit(self, amps: float) -> None:
        log.debug("%s: no current limit (%s A) on an emulated board", self.power.resource, amps)

    def _run(self, *commands: str) -> Any:
        """Run commands in one QMP session; the last one's return value."""
        result: Any = None
        with self._lock, QmpSession(self.socket_path, self.timeout_s) as session:
            for command in commands:
                result = session.execute(command)
        return result
