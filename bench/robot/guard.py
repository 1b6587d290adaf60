"""Run a measurement while a watchdog watches the DUT, so a hung board fails the test at
once (with the reason) instead of wedging the run until every timeout has expired.

The measurement runs on a worker thread; the calling (Robot) thread waits for either the
result or the watchdog. On a hang the caller gets `DutHung` within the watchdog's
detection time; the worker is left to fail on its own once the caller closes the DUT's
console and the reference peer under it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from bench.lab.watchdog import DutWatchdog

T = TypeVar("T")


class DutHung(AssertionError):
    """The DUT stopped answering during a test; the message says what was seen."""


def run_watched(work: Callable[[], T], watchdog: DutWatchdog | None) -> T:
    """`work()`'s result, or DutHung as soon as the watchdog declares the DUT hung."""
    if watchdog is None:
        return work()
    outcome: dict[str, object] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=worker, name="measurement", daemon=True)
    with watchdog:
        thread.start()
        while not done.wait(0.2):
            if watchdog.hung.is_set():
                raise DutHung(watchdog.reason)
        if "error" in outcome and watchdog.state.misses > 0:
            # The work failed while probes go unanswered (a console timeout, say): wait
            # for the watchdog's word, so a hang is reported as a hang.
            if confirmed_hung(watchdog):
                raise DutHung(watchdog.reason)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def confirmed_hung(watchdog: DutWatchdog) -> bool:
    """Wait until the watchdog declares a hang or sees a reply again."""
    deadline_probes = watchdog.state.probes + watchdog.max_misses + 1
    while watchdog.state.probes < deadline_probes:
        if watchdog.hung.wait(watchdog.period_s / 2):
            return True
        if watchdog.state.misses == 0:
            return False
    return watchdog.hung.is_set()
