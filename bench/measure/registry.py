"""Every measurement the bench has, by the name the CLI, the Robot library and the
results use. A family module adds its functions here (one line each)."""

from __future__ import annotations

from collections.abc import Callable

from bench.measure.handshake import (
    measure_isn_predictability,
    measure_rst_on_closed_port,
    measure_syn_retries,
    measure_synack_retries,
)
from bench.measure.mss import measure_offered_mss
from bench.measure.result import Measurement
from bench.measure.time_wait import measure_time_wait_duration

MEASUREMENTS: dict[str, Callable[..., Measurement]] = {
    # handshake (HS)
    "syn_retries": measure_syn_retries,
    "synack_retries": measure_synack_retries,
    "rst_on_closed_port": measure_rst_on_closed_port,
    "isn_predictability": measure_isn_predictability,
    # MSS / MTU (MS)
    "offered_mss": measure_offered_mss,
    # close and TIME_WAIT (CL)
    "time_wait_duration": measure_time_wait_duration,
}
