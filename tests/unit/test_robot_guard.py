"""The guard around a measurement: a hang reported by the watchdog fails the caller at
once, a slow but healthy measurement is left alone; the watchdog's ICMP echo is sound."""

from __future__ import annotations

import threading
import time

import pytest

from bench.lab.watchdog import Liveness, echo_request, is_reply
from bench.model.checksum import internet_checksum
from bench.robot.guard import DutHung, run_watched


class StubWatchdog:
    """Stands in for the ICMP thread: the test decides when the DUT 'hangs'."""

    def __init__(self, hang_after_s: float | None) -> None:
        self.hung = threading.Event()
        self.reason = "DUT x stopped answering: no ICMP echo reply"
        self.state = Liveness()
        self.period_s = 0.05
        self.max_misses = 2
        self.hang_after_s = hang_after_s

    def __enter__(self) -> StubWatchdog:
        if self.hang_after_s is not None:
            def hang() -> None:
                self.state.misses = self.max_misses
                self.hung.set()
            threading.Timer(self.hang_after_s, hang).start()
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_healthy_measurement_returns_its_result() -> None:
    assert run_watched(lambda: 42, StubWatchdog(None)) == 42  # type: ignore[arg-type]


def test_a_hang_fails_the_caller_without_waiting_for_the_measurement() -> None:
    started = time.monotonic()
    with pytest.raises(DutHung, match="stopped answering"):
        run_watched(lambda: time.sleep(30), StubWatchdog(0.2))  # type: ignore[arg-type]
    assert time.monotonic() - started < 2.0


def test_a_console_timeout_during_a_hang_is_reported_as_the_hang() -> None:
    dog = StubWatchdog(0.3)

    def timed_out() -> None:
        dog.state.misses = 1  # probes already going unanswered
        raise TimeoutError("no answer on the console")

    with pytest.raises(DutHung):
        run_watched(timed_out, dog)  # type: ignore[arg-type]


def test_echo_request_checksums_and_reply_matching() -> None:
    packet = echo_request(0x1234, 7)
    assert internet_checksum(packet) == 0
    ip_header = bytes([0x45]) + bytes(19)
    reply = ip_header + bytes([0, 0, 0, 0, 0x12, 0x34, 0, 7])
    assert is_reply(reply, "192.0.2.20", "192.0.2.20", 0x1234, 7)
    assert not is_reply(reply, "192.0.2.21", "192.0.2.20", 0x1234, 7)
    assert not is_reply(reply, "192.0.2.20", "192.0.2.20", 0x1234, 8)
