"""The agent: console requests in, replies and events out, one selector loop for all I/O."""

from __future__ import annotations

import selectors
import time
from collections.abc import Iterable
from pathlib import Path

from . import sysctl
from .commands import dispatch
from .console import PtyConsole
from .identity import identity
from .linebuf import LineReader
from .log import ConsoleLog
from .protocol import evt_line
from .stack import Stack

TICK_S = 0.02  # acknowledgement polling period for pending sends
IDLE_S = 1.0


class Agent:
    """One simulated DUT. Without a console (unit tests) output collects in `outbox`."""

    def __init__(
        self,
        name: str,
        ifname: str | None = None,
        console: PtyConsole | None = None,
        log: ConsoleLog | None = None,
    ) -> None:
        self.name = name
        self.ifname = ifname
        self.saved_sysctls: dict[str, str] = {}
        self.outbox: list[str] = []
        self._console = console
        self._log = log or ConsoleLog(None)
        self._sel = selectors.DefaultSelector()
        self.stack = Stack(self._sel, self.emit)
        self._reader = LineReader()
        self._deferred: list[str] | None = None
        self._identity = identity(name, sysctl.read_consts())
        self._console_events = 0

    def identity(self) -> list[tuple[str, object]]:
        """name/proto/stack/build as fixed at the last boot."""
        return self._identity

    # ---- output --------------------------------------------------------------------

    def emit(self, name: str, items: Iterable[tuple[str, object]] = ()) -> None:
        """Send an event; during a request it waits until the final reply is out."""
        line = evt_line(name, items)
        if self._deferred is not None:
            self._deferred.append(line)
        else:
            self._output(line)

    def _output(self, line: str) -> None:
        self._log.write("<", line)
        if self._console is None:
            self.outbox.append(line)
        else:
            self._console.queue(line)

    # ---- requests ------------------------------------------------------------------

    def handle_line(self, raw: bytes) -> list[str]:
        """Run one request line; return every line it produced, in console order."""
        self._log.write(">", _printable(raw))
        self._deferred = []
        try:
            reply = dispatch(self, raw)
        finally:
            events, self._deferred = self._deferred, None
        for line in reply + events:
            self._output(line)
        return reply + events

    def boot(self) -> None:
        """Announce the (re)started DUT."""
        self._identity = identity(self.name, sysctl.read_consts())
        self.emit("boot", self._identity)

    def reboot(self) -> None:
        """Board-reset semantics: every socket gone, runtime constants back, EVT boot."""
        self.stack.reset()
        for key, value in self.saved_sysctls.items():
            try:
                sysctl.write_sysctl(key, value)
            except Exception as exc:  # report, but a reboot must complete
                self._log.write("#", f"restoring {key} failed: {exc}")
        self.saved_sysctls.clear()
        self.boot()

    # ---- loop ----------------------------------------------------------------------

    def run(self) -> None:
        """Serve the console until killed (SIGTERM/SIGINT end it via SystemExit)."""
        if self._console is None:
            raise RuntimeError("run() needs a console")
        self._sel.register(self._console.master, selectors.EVENT_READ, self._on_console)
        self._console_events = selectors.EVENT_READ
        self.boot()
        last_tick = time.monotonic()
        try:
            while True:
                self._arm_console()
                ticking = self.stack.needs_tick()
                timeout = TICK_S if ticking else IDLE_S
                for key, mask in self._sel.select(timeout):
                    key.data(mask)
                now = time.monotonic()
                if ticking and now - last_tick >= TICK_S:
                    last_tick = now
                    self.stack.tick()
        finally:
            self.stack.reset()
            self._log.close()

    def _arm_console(self) -> None:
        assert self._console is not None
        pending = self._console.flush()
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
        if want != self._console_events:
            self._sel.modify(self._console.master, want, self._on_console)
            self._console_events = want

    def _on_console(self, mask: int) -> None:
        assert self._console is not None
        if mask & selectors.EVENT_READ:
            for raw in self._reader.feed(self._console.read()):
                self.handle_line(raw)
        if mask & selectors.EVENT_WRITE:
            self._console.flush()


def _printable(raw: bytes) -> str:
    """Request bytes for the log, control and non-ASCII bytes escaped."""
    return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in raw)


def serve(name: str, pty_file: Path, ifname: str | None, log_path: Path | None) -> None:
    """Create the console, publish its path, and run the agent on it."""
    console = PtyConsole()
    log = ConsoleLog(log_path)
    log.write("#", f"console {console.path}")
    agent = Agent(name, ifname=ifname, console=console, log=log)
    console.publish(pty_file)
    try:
        agent.run()
    finally:
        console.close()
