"""Exclusive, crash-safe locks on lab resources (a DUT, its console).

A kernel file lock (flock) dies with its holder, so a killed CI job never leaves a board
locked; the file also names the holder so a second client can say who has it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_DIR = Path(os.environ.get("HILBENCH_LOCK_DIR", "/run/hilbench/locks"))


class Busy(RuntimeError):
    """The resource is held by another process."""


class ResourceLock:
    """`with ResourceLock("dut-lwip-m3"):` holds the lock for the block."""

    def __init__(self, name: str, lock_dir: Path | None = None, label: str | None = None):
        self.name = name
        self.label = label or name  # what a person calls it: "DUT lwip-m3"
        self.path = (lock_dir or LOCK_DIR) / f"{name}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown holder"
            os.close(fd)
            raise Busy(f"{self.label} is busy (held by {holder})") from None
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.pwrite(fd, f"pid {os.getpid()} since {stamp}\n".encode(), 0)
        self._fd = fd

    def acquire_within(self, wait_s: float, poll_s: float = 0.2) -> None:
        """Wait up to `wait_s` for the lock (a shared resource used in turns); Busy after."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.acquire()
                return
            except Busy:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(poll_s)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResourceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
