"""run_parallel / SharedDut: one console request at a time, jobs side by side, errors
kept per job, events waited for in slices without holding the console."""

from __future__ import annotations

import threading
import time

import pytest

from bench.measure.parallel import SharedDut, run_parallel
from bench.measure.result import Measurement
from firmware_adapters.dut import Event
from firmware_adapters.errors import DutTimeout


class FakeDut:
    name = "fake"

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.guard = threading.Lock()
        self.event_at = time.monotonic() + 0.2

    def conns(self) -> list[str]:
        with self.guard:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.01)
        with self.guard:
            self.inside -= 1
        return []

    def wait_event(self, name: str, timeout_s: float, **match: str) -> Event:
        if time.monotonic() < self.event_at:
            time.sleep(timeout_s)
            raise DutTimeout(self.name, "no event")
        return Event(name, dict(match), time.monotonic())


def job(value: int):  # type: ignore[no-untyped-def]
    def run(dut: SharedDut) -> Measurement:
        for _ in range(5):
            dut.conns()
        time.sleep(0.2)
        return Measurement(name="x", dut=dut.name, value=value, unit="count")
    return run


def test_jobs_run_side_by_side_one_request_at_a_time() -> None:
    fake = FakeDut()
    result = run_parallel(fake, {f"j{i}": job(i) for i in range(4)})  # type: ignore[arg-type]
    assert sorted(m.value for m in result.measurements.values()) == [0, 1, 2, 3]  # type: ignore[type-var]
    assert fake.most == 1
    assert result.wall_s < 0.8  # not 4 x 0.25 s


def test_an_error_stays_with_its_job() -> None:
    def broken(dut: SharedDut) -> Measurement:
        raise RuntimeError("boom")

    result = run_parallel(FakeDut(), {"ok": job(1), "bad": broken}, workers=1)  # type: ignore[arg-type]
    assert list(result.measurements) == ["ok"] and "bad" in result.errors


def test_wait_event_slices_and_times_out() -> None:
    shared = SharedDut(FakeDut())  # type: ignore[arg-type]
    assert shared.wait_event("accepted", 2, id="3").fields == {"id": "3"}
    late = FakeDut()
    late.event_at = time.monotonic() + 10
    with pytest.raises(DutTimeout):
        SharedDut(late).wait_event("accepted", 0.2)  # type: ignore[arg-type]
