"""Timer-bound measurements side by side: one DUT console shared by threads, each
experiment on its own connection and port, the wall time of the whole set recorded.

A console answers one request at a time, so `SharedDut` serialises requests with a
lock and waits for events in short slices (another thread's request may read the
event first; it stays queued in the adapter for whoever asks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.measure.result import Measurement
from firmware_adapters.dut import Dut, Event
from firmware_adapters.errors import DutTimeout

_EVENT_SLICE_S = 0.05


class SharedDut:
    """A Dut usable from several threads: every call holds one lock."""

    def __init__(self, dut: Dut) -> None:
        self._dut = dut
        self._lock = threading.Lock()
        self.name = dut.name

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._dut, attr)
        if not callable(target):
            return target

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return target(*args, **kwargs)

        return locked

    def wait_event(self, name: str, timeout_s: float, **match: str) -> Event:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                try:
                    return self._dut.wait_event(name, _EVENT_SLICE_S, **match)
                except DutTimeout:
                    if time.monotonic() >= deadline:
                        raise
            time.sleep(0.005)


@dataclass
class SetResult:
    """The measurements of a set (by job name) and the set's wall time (Python's clock:
    a cost figure for the bench, not a property of the DUT)."""

    measurements: dict[str, Measurement]
    errors: dict[str, BaseException]
    wall_s: float


def run_parallel(dut: Dut, jobs: dict[str, Callable[[Dut], Measurement]],
                 workers: int | None = None) -> SetResult:
    """Run `jobs` (name -> fn(shared_dut)) at once on one shared console; `workers=1`
    runs them one after the other (a DUT with few connection slots, lwIP's 5 pcbs)."""
    shared = SharedDut(dut)
    start = time.monotonic()
    done: dict[str, Measurement] = {}
    errors: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=workers or max(len(jobs), 1)) as pool:
        futures = {name: pool.submit(fn, shared) for name, fn in jobs.items()}  # type: ignore[arg-type]
        for name, fut in futures.items():
            try:
                done[name] = fut.result()
            except BaseException as exc:  # reported per job; the others still count
                errors[name] = exc
    return SetResult(done, errors, round(time.monotonic() - start, 1))
