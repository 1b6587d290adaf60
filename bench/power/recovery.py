"""Recovering a hung DUT by power, and the current trace a report plots next to it.

The runner calls `power_cycle` when a DUT stops answering; the returned record is
evidence for the report (when, how long off, what the board drew before and after),
not a verdict.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bench.inventory.models import Power
from bench.power.base import PowerError, Supply, open_supply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PowerCycle:
    """One recovery power cycle; monotonic times pair with console and sample logs."""

    resource: str
    channel: int
    started_at: datetime  # UTC wall clock, for humans
    started_s: float  # time.monotonic()
    ended_s: float
    off_s: float  # requested off time
    current_before_a: float | None  # None: not measurable or the reading failed
    current_after_a: float | None
    is_on_after: bool

    @property
    def duration_s(self) -> float:
        return self.ended_s - self.started_s


def power_cycle(supply: Supply, off_s: float = 1.0, settle_s: float = 0.1) -> PowerCycle:
    """Cycle the DUT's power and record it; `settle_s` skips inrush before the reading."""
    current_before = _reading(supply)
    started_at = datetime.now(UTC)
    started_s = time.monotonic()
    supply.cycle(off_s)
    time.sleep(settle_s)
    current_after = _reading(supply)
    is_on = supply.is_on()
    record = PowerCycle(
        resource=supply.power.resource,
        channel=supply.power.channel,
        started_at=started_at,
        started_s=started_s,
        ended_s=time.monotonic(),
        off_s=off_s,
        current_before_a=current_before,
        current_after_a=current_after,
        is_on_after=is_on,
    )
    log.info(
        "power-cycled %s ch%d: off %.2f s, %s A before, %s A after",
        record.resource,
        record.channel,
        off_s,
        current_before,
        current_after,
    )
    return record


def _reading(supply: Supply) -> float | None:
    # A hung board may be what broke the reading too; the cycle must still happen.
    try:
        return supply.measure_current_a()
    except PowerError as exc:
        log.warning("current reading failed around a power cycle: %s", exc)
        return None


class CurrentSample(NamedTuple):
    t_s: float  # time.monotonic()
    current_a: float


class CurrentSampler:
    """Samples `measure_current_a()` every `interval_ms` on a thread, for the report.

    Bounded: keeps the latest `max_samples` and counts the ones dropped. A failed
    reading stops sampling and is kept in `error`; a supply that cannot measure
    (None) yields no samples.
    """

    def __init__(
        self, supply: Supply, interval_ms: float = 100.0, max_samples: int = 100_000
    ) -> None:
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, not {interval_ms}")
        self.supply = supply
        self.interval_s = interval_ms / 1000.0
        self.error: PowerError | None = None
        self.dropped = 0
        self._samples: deque[CurrentSample] = deque(maxlen=max_samples)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def start(self) -> CurrentSampler:
        if self._thread is not None:
            raise RuntimeError("this sampler has already been started")
        self._thread = threading.Thread(
            target=self._run, name=f"current-sampler {self.supply.power.resource}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> list[CurrentSample]:
        """Stop, wait for the thread, and return the samples (oldest first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.samples

    @property
    def samples(self) -> list[CurrentSample]:
        with self._guard:
            return list(self._samples)

    def __enter__(self) -> CurrentSampler:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        next_s = time.monotonic()
        while not self._stop.is_set():
            try:
                current = self.supply.measure_current_a()
            except PowerError as exc:
                self.error = exc
                log.warning("current sampling stopped: %s", exc)
                return
            if current is None:
                return
            sample = CurrentSample(time.monotonic(), current)
            with self._guard:
                if len(self._samples) == self._samples.maxlen:
                    self.dropped += 1
                self._samples.append(sample)
            # A fixed grid, not sleep(interval): slow readings must not stretch the period.
            next_s += self.interval_s
            now = time.monotonic()
            if next_s < now:
                next_s = now
            self._stop.wait(next_s - now)


@contextmanager
def currents_during(powers: dict[str, Power], interval_ms: float = 200.0
                    ) -> Iterator[list[dict[str, Any]]]:
    """Sample the current each DUT draws while the block runs (a whole Robot run).

    Yields a list that is filled on exit with one {"dut", "samples": [[t_s, amps]]}
    per DUT whose supply measures current (t_s from the first sample). A supply that
    cannot measure (an emulated board) or cannot be opened gives no trace, with a
    warning: sampling is evidence next to the verdicts, never a reason to fail a run.
    """
    running: list[tuple[str, Supply, CurrentSampler]] = []
    for dut, power in powers.items():
        try:
            supply = open_supply(power)
        except PowerError as exc:
            log.warning("DUT %s: no current sampling: %s", dut, exc)
            continue
        try:
            measures = supply.measure_current_a() is not None
        except PowerError as exc:
            log.warning("DUT %s: no current sampling: %s", dut, exc)
            measures = False
        if not measures:
            supply.close()
            continue
        running.append((dut, supply, CurrentSampler(supply, interval_ms).start()))
    traces: list[dict[str, Any]] = []
    try:
        yield traces
    finally:
        for dut, supply, sampler in running:
            samples = sampler.stop()
            supply.close()
            if samples:
                t0 = samples[0].t_s
                traces.append({"dut": dut, "samples": [[round(s.t_s - t0, 3), s.current_a]
                                                       for s in samples]})
