"""Scheduling for the bridge's forwarding thread: SCHED_DEADLINE through sched_setattr(2).

A polling bridge gets the lowest latency, but a real-time task that polls forever is
throttled by the kernel for tens of ms per second (RT throttling / the fair server), and
a normal task is preempted by whatever else shares its core. A deadline reservation
(runtime per period, e.g. 950 us every 1 ms) keeps the bridge on a CPU ahead of every
other task and bounds the time it is off to (period - runtime) at a time.
Python has no wrapper for sched_setattr, so it is called by number (x86-64, arm64).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

SCHED_DEADLINE = 6
_SYSCALL = {"x86_64": 314, "aarch64": 274}


class SchedError(OSError):
    """The kernel refused the reservation (admission control, affinity, no support)."""


def parse_reservation(text: str) -> tuple[int, int]:
    """'950:1000' (runtime:period in us) -> (runtime_ns, period_ns)."""
    try:
        runtime_us, period_us = (int(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(f"deadline reservation {text!r}: expected RUNTIME_US:PERIOD_US") \
            from None
    if not 0 < runtime_us <= period_us:
        raise ValueError(f"deadline reservation {text!r}: need 0 < runtime <= period")
    return runtime_us * 1000, period_us * 1000


def set_deadline(runtime_ns: int, period_ns: int) -> None:
    """Make the calling process SCHED_DEADLINE with this reservation (deadline = period).

    The kernel refuses it (EPERM) for a process pinned to fewer CPUs than its root
    domain, so the bridge is not pinned when it uses a reservation."""
    number = _SYSCALL.get(platform.machine())
    if number is None:
        raise SchedError(f"sched_setattr: unknown syscall number on {platform.machine()}")
    attr = struct.pack("IIQiIQQQ", 48, SCHED_DEADLINE, 0, 0, 0, runtime_ns, period_ns,
                       period_ns)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))  # undo an inherited pinning
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 0, ctypes.create_string_buffer(attr), 0) != 0:
        errno = ctypes.get_errno()
        raise SchedError(errno, f"sched_setattr(SCHED_DEADLINE): {os.strerror(errno)}")
