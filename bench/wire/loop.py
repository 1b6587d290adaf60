"""The I/O thread of one link: select() on the packet socket with the nearest timer
deadline as timeout; frame handling and timers run under one lock, which the public API
of the model takes too (like a kernel socket lock), so no state is shared unguarded.

`LoopTuning` trades CPU for reaction time (measured in docs/benchmarks.md): keep
reading the socket for a while after each frame instead of sleeping in select() (a
wake-up costs tens of us on a VM, and the CPU's caches go cold), run the thread
SCHED_FIFO, pin it.
"""

from __future__ import annotations

import heapq
import itertools
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.wire.link import Link, RxFrame


@dataclass(frozen=True)
class LoopTuning:
    """How the I/O thread waits. busy_poll_us: after each frame, poll (read the socket
    without blocking) this long before sleeping; rt_priority: SCHED_FIFO priority (0: normal);
    cpus: pin the thread to these CPUs (None: any)."""

    busy_poll_us: int = 0
    rt_priority: int = 0
    cpus: frozenset[int] | None = None


# While polling, the I/O thread gives the GIL back at every select(); other Python
# threads still wait for it up to the switch interval (5 ms), so polling shortens it.
_POLL_SWITCH_INTERVAL_S = 0.0002


class Timer:
    """A one-shot timer; cancel() is safe from any thread holding the loop lock."""

    __slots__ = ("deadline_ns", "fn", "cancelled")

    def __init__(self, deadline_ns: int, fn: Callable[[], None]) -> None:
        self.deadline_ns = deadline_ns
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class IoLoop:
    """Runs `on_frames(batch)` for every batch of received frames and fires timers."""

    def __init__(self, link: Link, on_frames: Callable[[list[RxFrame]], None],
                 name: str = "wire-io", tuning: LoopTuning | None = None) -> None:
        self.link = link
        self.tuning = tuning or LoopTuning()
        self.tuning_errors: list[str] = []  # what the kernel refused (no privilege ...)
        self.on_frames = on_frames
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._heap: list[tuple[int, int, Timer]] = []
        self._counter = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.error: BaseException | None = None
        link.on_backlog = self._on_backlog

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def start(self) -> None:
        self._thread.start()

    def call_at(self, deadline_ns: int, fn: Callable[[], None]) -> Timer:
        """Schedule `fn` at monotonic time `deadline_ns` (call with the lock held)."""
        timer = Timer(deadline_ns, fn)
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (deadline_ns, next(self._counter), timer))
        if (earliest is None or deadline_ns < earliest) and \
                threading.current_thread() is not self._thread:
            self.wake()
        return timer

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(time.monotonic_ns() + int(delay_s * 1e9), fn)

    def _on_backlog(self) -> None:
        if threading.current_thread() is not self._thread:
            self.wake()

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def stop(self) -> None:
        self._stop = True
        self.wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _timeout_s(self) -> float | None:
        if self.link.has_backlog:
            return 0.0
        with self.lock:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            if not self._heap:
                return None
            return max(0.0, (self._heap[0][0] - time.monotonic_ns()) / 1e9)

    def _apply_tuning(self) -> None:
        """Scheduling for this thread only (pid 0 = the calling thread on Linux)."""
        tuning = self.tuning
        if tuning.cpus is not None:
            try:
                os.sched_setaffinity(0, tuning.cpus)
            except OSError as exc:
                self.tuning_errors.append(f"sched_setaffinity: {exc}")
        if tuning.rt_priority:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(tuning.rt_priority))
            except OSError as exc:
                self.tuning_errors.append(f"SCHED_FIFO: {exc}")
        if tuning.busy_poll_us and sys.getswitchinterval() > _POLL_SWITCH_INTERVAL_S:
            sys.setswitchinterval(_POLL_SWITCH_INTERVAL_S)

    def _run(self) -> None:
        link_fd = self.link.fileno()
        self._apply_tuning()
        poll_ns = self.tuning.busy_poll_us * 1000
        last_frame_ns = 0
        watch = [link_fd, self._wake_r]
        try:
            while not self._stop:
                if poll_ns and time.monotonic_ns() - last_frame_ns < poll_ns:
                    # Polling: ask the socket itself (one recvmsg) rather than select()
                    # first; timers are looked at between the reads, so the wake-up pipe
                    # is left for the next select() to drain.
                    with self.lock:
                        got = self._take_frames()
                        if self.link.has_backlog and self._take_frames():
                            got = True  # frames that arrived while an answer went out
                        if got:
                            last_frame_ns = time.monotonic_ns()
                        elif not self._timer_due():
                            continue
                        self._fire_due()
                        self.changed.notify_all()
                    continue
                readable, _, _ = select.select(watch, [], [], self._timeout_s())
                if self._stop:
                    return
                if self._wake_r in readable:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                with self.lock:
                    if (link_fd in readable or self.link.has_backlog) and self._take_frames():
                        last_frame_ns = time.monotonic_ns()
                    self._fire_due()
                    self.changed.notify_all()
        except BaseException as exc:  # surfaced to API callers, never silently lost
            self.error = exc
            with self.lock:
                self.changed.notify_all()
            raise

    def _take_frames(self) -> bool:
        """Hand every queued frame to `on_frames`, in batches (lock held); True when any
        came."""
        got = False
        while True:
            batch = self.link.receive()
            if batch:
                self.on_frames(batch)
                got = True
            if len(batch) < 256:
                return got

    def _timer_due(self) -> bool:
        heap = self._heap
        return bool(heap) and heap[0][0] <= time.monotonic_ns() or self.link.has_backlog

    def _fire_due(self) -> None:
        now = time.monotonic_ns()
        heap = self._heap
        while heap and (heap[0][2].cancelled or heap[0][0] <= now):
            _, _, timer = heapq.heappop(heap)
            if not timer.cancelled:
                timer.cancelled = True
                timer.fn()
