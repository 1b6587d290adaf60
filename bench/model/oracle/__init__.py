"""The capture oracle: rebuild a DUT's TCP connections from a pcap(ng), infer its state
timeline, mark retransmissions like Wireshark, and flag rule violations.

    result = analyse("case.pcapng", dut_ip="192.0.2.10")
    for conn in result.connections: conn.rows, conn.timeline, conn.violations

Column meanings are documented in bench.model.oracle.trace.
"""

from bench.model.oracle.analysis import analyse, analyse_segments
from bench.model.oracle.trace import (
    ConnectionTrace,
    OracleResult,
    StateChange,
    TraceRow,
    Violation,
)

__all__ = [
    "ConnectionTrace", "OracleResult", "StateChange", "TraceRow", "Violation", "analyse",
    "analyse_segments",
]
