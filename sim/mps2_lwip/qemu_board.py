"""Start, drive and stop one QEMU mps2-an385 board running the lwIP firmware.

Reusable by the lab (bench/lab) and by the tests; standard library only (pyserial
is imported lazily by :class:`Console`).

The board is started stopped (``-S``) so no console output is lost: the caller
opens the pty first, then calls :func:`cont`. QEMU runs inside a network
namespace (``ip netns exec``, which execs QEMU under the same PID) so its TAP
device, which must exist before QEMU starts, can live there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

QEMU = "qemu-system-arm"
PTY_RE = re.compile(r"char device redirected to (/dev/pts/\d+)")


@dataclass
class BoardProcess:
    pid: int
    pty: str
    qmp_path: Path
    log_path: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)


def qemu_argv(elf: Path, tap: str, mac: str, qmp_path: Path) -> list[str]:
    return [
        QEMU, "-M", "mps2-an385", "-cpu", "cortex-m3", "-nographic", "-S",
        "-kernel", str(elf),
        "-serial", "pty",
        "-monitor", "none",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
        "-nic", f"tap,ifname={tap},script=no,downscript=no,model=lan9118,mac={mac}",
    ]


def start_board(elf: Path, netns: str | None, tap: str, mac: str, workdir: Path,
                name: str = "board", timeout: float = 10.0) -> BoardProcess:
    """Start QEMU (stopped) in `netns`; return once the pty and QMP are ready.

    QEMU's stdout/stderr go to ``workdir/<name>.log``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    qmp_path = workdir / f"{name}.qmp"
    log_path = workdir / f"{name}.log"
    if qmp_path.exists():
        qmp_path.unlink()
    argv = qemu_argv(Path(elf), tap, mac, qmp_path)
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    log = open(log_path, "wb")
    try:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    deadline = time.monotonic() + timeout
    pty = None
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        m = PTY_RE.search(text)
        if m:
            pty = m.group(1)
        if pty and qmp_path.exists():
            break
        if popen.poll() is not None:
            raise RuntimeError(f"QEMU exited with {popen.returncode}: {text.strip()}")
        time.sleep(0.02)
    else:
        _kill(popen)
        raise TimeoutError(f"QEMU did not report its pty/QMP within {timeout}s "
                           f"(log {log_path})")
    return BoardProcess(pid=popen.pid, pty=pty, qmp_path=qmp_path,
                        log_path=log_path, popen=popen)


def qmp(qmp_path: Path, command: str, arguments: dict | None = None,
        timeout: float = 5.0) -> dict:
    """Run one QMP command; return its reply (raises on error).

    For this module's standalone users (smoke.py runs without the bench installed);
    the bench itself talks QMP through bench.power.qemu_reset.QmpSession."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(qmp_path))
        f = s.makefile("rwb", buffering=0)
        json.loads(f.readline())  # greeting

        def call(cmd, args=None):
            msg = {"execute": cmd}
            if args:
                msg["arguments"] = args
            f.write(json.dumps(msg).encode() + b"\r\n")
            while True:
                reply = json.loads(f.readline())
                if "event" in reply:
                    continue
                if "error" in reply:
                    raise RuntimeError(f"QMP {cmd}: {reply['error']}")
                return reply

        call("qmp_capabilities")
        return call(command, arguments)
    finally:
        s.close()


def cont(qmp_path: Path) -> None:
    qmp(qmp_path, "cont")


def system_reset(qmp_path: Path) -> None:
    qmp(qmp_path, "system_reset")


def _kill(popen: subprocess.Popen, grace: float = 2.0) -> None:
    if popen.poll() is not None:
        return
    popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(grace)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(grace)


def stop(board: BoardProcess, grace: float = 2.0) -> None:
    """Stop QEMU by its PID (SIGTERM, then SIGKILL)."""
    if board.popen is not None:
        _kill(board.popen, grace)
        return
    try:
        os.kill(board.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(board.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(board.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Console:
    """Minimal protocol v1 client on the board's pty (pyserial)."""

    def __init__(self, port: str, log: list | None = None):
        import serial  # pyserial

        self.ser = serial.Serial(port, 115200, timeout=0.05)
        self.buf = b""
        self.events: list[str] = []
        self.garbage: list[str] = []
        self.log = log if log is not None else []
        self.first_byte_at: float | None = None

    def close(self) -> None:
        self.ser.close()

    def readline(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            chunk = self.ser.read(self.ser.in_waiting or 1)
            if chunk:
                if self.first_byte_at is None:
                    self.first_byte_at = time.monotonic()
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode("ascii", "replace").rstrip("\r")
        self.log.append((time.monotonic(), text))
        return text

    def _classify(self, text: str) -> str:
        if text.startswith("EVT "):
            self.events.append(text)
            return "evt"
        if text.startswith("OK ") or text.startswith("ERR "):
            return "final"
        if text.startswith("- "):
            return "data"
        self.garbage.append(text)
        return "garbage"

    def request(self, line: str, timeout: float = 5.0,
                eol: str = "\n") -> tuple[str, list[str]]:
        """Send one request; return (final reply, data lines)."""
        self.ser.write(line.encode("ascii") + eol.encode("ascii"))
        data = []
        deadline = time.monotonic() + timeout
        while True:
            text = self.readline(max(0.0, deadline - time.monotonic()))
            if text is None:
                raise TimeoutError(f"no reply to {line!r} within {timeout}s")
            kind = self._classify(text)
            if kind == "final":
                return text, data
            if kind == "data":
                data.append(text)

    def ok(self, line: str, timeout: float = 5.0) -> dict:
        reply, _ = self.request(line, timeout)
        if not reply.startswith("OK "):
            raise AssertionError(f"{line!r} -> {reply!r}")
        return kv(reply)

    def wait_event(self, name: str, timeout: float, **match) -> dict:
        """Wait for `EVT <name>` whose keys include `match`; return its keys."""
        deadline = time.monotonic() + timeout

        def matches(e):
            parts = e.split()
            if len(parts) < 2 or parts[1] != name:
                return None
            d = kv(e)
            if all(d.get(k) == str(v) for k, v in match.items()):
                return d
            return None

        for i, e in enumerate(self.events):
            d = matches(e)
            if d is not None:
                del self.events[i]
                return d
        while True:
            text = self.readline(max(0.0, deadline - time.monotonic()))
            if text is None:
                raise TimeoutError(f"no EVT {name} {match} within {timeout}s")
            if self._classify(text) == "evt":
                d = matches(text)
                if d is not None:
                    self.events.remove(text)
                    return d


def kv(line: str) -> dict:
    out = {}
    for part in line.split():
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out
