"""Every measurement the bench has, by the name the CLI, the Robot library and the
results use. A family module adds its functions here (one line each)."""

from __future__ import annotations

from collections.abc import Callable

from bench.measure.ack_behaviour import (
    measure_delayed_ack,
    measure_ooo_ack,
    measure_sack_recovery,
)
from bench.measure.burst_loss import measure_burst_loss
from bench.measure.close import (
    measure_active_close,
    measure_close_wait_leak,
    measure_fin_ack_close,
    measure_fin_wait_2_timeout,
    measure_half_close,
    measure_merged_close,
    measure_passive_close,
    measure_simultaneous_close,
    measure_time_wait_restart,
    measure_time_wait_syn_reuse,
)
from bench.measure.congestion import (
    measure_fast_retransmit,
    measure_rto_backoff,
    measure_slow_start,
)
from bench.measure.establish import (
    measure_handshake,
    measure_simultaneous_open,
    measure_stale_synack,
    measure_tfo,
    measure_third_segment_data,
    measure_unacceptable_seq,
)
from bench.measure.flow_control import (
    measure_flight_window,
    measure_receive_window,
    measure_window_scaling,
    measure_zero_window,
)
from bench.measure.handshake import (
    measure_isn_predictability,
    measure_rst_on_closed_port,
    measure_syn_retries,
    measure_synack_retries,
)
from bench.measure.loss_sweep import measure_loss_sweep
from bench.measure.mss import measure_largest_segment, measure_offered_mss, measure_pmtud
from bench.measure.reset import measure_abort_rst, measure_rst_handling
from bench.measure.result import Measurement
from bench.measure.robustness import (
    measure_bad_checksum,
    measure_duplicate_segment,
    measure_header_robustness,
    measure_seq_accounting,
)
from bench.measure.syn_flood import measure_syn_flood
from bench.measure.time_wait import measure_time_wait_duration
from bench.measure.udp import measure_udp_bad_checksum, measure_udp_closed_port, measure_udp_echo

MEASUREMENTS: dict[str, Callable[..., Measurement]] = {
    # handshake (HS)
    "syn_retries": measure_syn_retries,
    "synack_retries": measure_synack_retries,
    "rst_on_closed_port": measure_rst_on_closed_port,
    "isn_predictability": measure_isn_predictability,
    "handshake": measure_handshake,
    "third_segment_data": measure_third_segment_data,
    "stale_synack": measure_stale_synack,
    "unacceptable_seq": measure_unacceptable_seq,
    "tfo": measure_tfo,
    "simultaneous_open": measure_simultaneous_open,
    "syn_flood": measure_syn_flood,
    # MSS / MTU (MS)
    "offered_mss": measure_offered_mss,
    "largest_segment": measure_largest_segment,
    "pmtud": measure_pmtud,
    # data transfer and header robustness (DT)
    "seq_accounting": measure_seq_accounting,
    "bad_checksum": measure_bad_checksum,
    "duplicate_segment": measure_duplicate_segment,
    "header_robustness": measure_header_robustness,
    # reset (RS)
    "rst_handling": measure_rst_handling,
    "abort_rst": measure_abort_rst,
    # UDP (UD)
    "udp_echo": measure_udp_echo,
    "udp_bad_checksum": measure_udp_bad_checksum,
    "udp_closed_port": measure_udp_closed_port,
    # congestion control (CC) and data retransmission timeouts (DT-04)
    "slow_start": measure_slow_start,
    "fast_retransmit": measure_fast_retransmit,
    "rto_backoff": measure_rto_backoff,
    "loss_sweep": measure_loss_sweep,
    "burst_loss": measure_burst_loss,
    # ACK behaviour and SACK (DT-05 to DT-07)
    "ooo_ack": measure_ooo_ack,
    "sack_recovery": measure_sack_recovery,
    "delayed_ack": measure_delayed_ack,
    # flow control (FC)
    "flight_window": measure_flight_window,
    "zero_window": measure_zero_window,
    "window_scaling": measure_window_scaling,
    "receive_window": measure_receive_window,
    # close and TIME_WAIT (CL)
    "time_wait_duration": measure_time_wait_duration,
    "active_close": measure_active_close,
    "half_close": measure_half_close,
    "passive_close": measure_passive_close,
    "time_wait_restart": measure_time_wait_restart,
    "fin_ack_close": measure_fin_ack_close,
    "simultaneous_close": measure_simultaneous_close,
    "merged_close": measure_merged_close,
    "close_wait_leak": measure_close_wait_leak,
    "fin_wait_2_timeout": measure_fin_wait_2_timeout,
    "time_wait_syn_reuse": measure_time_wait_syn_reuse,
}
