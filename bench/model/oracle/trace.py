"""The oracle's output: one typed row per TCP segment, the DUT's state timeline and the
violations found, per connection. Measurements and plots read these, never the pcap.

TraceRow columns
----------------
time_ns              kernel timestamp of the frame (ns since the epoch)
frame_no             frame number in the capture (1-based, as Wireshark numbers)
direction            "tx": sent by the DUT; "rx": sent to the DUT
flags                'S', 'SA', 'A', 'PA', 'FA', 'R', 'RA' ... (letters F S R P A U E C)
rel_seq              seq minus the sender's ISN (SYN = 0, first data byte = 1)
rel_ack              ack minus the other side's ISN (0 when the ACK bit is off)
payload_bytes        TCP payload length
window_bytes         advertised window, scaled when both SYNs carried window scale
                     (SYN and SYN-ACK windows are never scaled)
options              option names in order, padding left out ('mss', 'sack_perm', 'ts',
                     'wscale', 'sack', 'opt<kind>' for others)
sack_blocks          SACK blocks relative to the data sender's ISN
retransmission       Wireshark's tcp.analysis.retransmission (plain, fast or spurious)
retransmission_kind  "", "retransmission", "fast", "spurious"
out_of_order         Wireshark's tcp.analysis.out_of_order (not a retransmission)
dup_ack              Wireshark's duplicate-ACK mark; dup_ack_count its running number
bytes_in_flight      the sender's highest seq sent minus the other side's last ACK
cwnd_estimate_bytes  flight-size based: the largest bytes_in_flight of this sender over
                     the last handshake RTT (at least 1 ms); meaningful for a sender
                     limited by its congestion window
dut_state            the DUT's state inferred after this segment
violations           names of rule violations this segment shows (see Violation)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bench.model.states import State


@dataclass(frozen=True)
class TraceRow:
    time_ns: int
    frame_no: int
    direction: str
    flags: str
    rel_seq: int
    rel_ack: int
    payload_bytes: int
    window_bytes: int
    options: tuple[str, ...]
    sack_blocks: tuple[tuple[int, int], ...]
    retransmission: bool
    retransmission_kind: str
    out_of_order: bool
    dup_ack: bool
    dup_ack_count: int
    bytes_in_flight: int
    cwnd_estimate_bytes: int
    dut_state: State
    violations: tuple[str, ...] = ()


@dataclass(frozen=True)
class StateChange:
    time_ns: int
    frame_no: int
    state: State


@dataclass(frozen=True)
class Violation:
    """kind: beyond_window, above_mss, ack_unsent_data, rst_bad_seq,
    rst_accepted_inexact, spurious_retransmission, data_after_fin."""

    kind: str
    frame_no: int
    time_ns: int
    detail: str


@dataclass
class ConnectionTrace:
    dut_port: int
    peer_ip: str
    peer_port: int
    dut_isn: int | None = None
    peer_isn: int | None = None
    dut_is_client: bool | None = None
    rows: list[TraceRow] = field(default_factory=list)
    timeline: list[StateChange] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    dut_syn_options: tuple[str, ...] = ()
    peer_syn_options: tuple[str, ...] = ()
    handshake_rtt_ns: int | None = None

    @property
    def states(self) -> list[State]:
        return [change.state for change in self.timeline]

    @property
    def retransmissions(self) -> int:
        return sum(1 for row in self.rows if row.retransmission)


@dataclass
class OracleResult:
    dut_ip: str
    connections: list[ConnectionTrace] = field(default_factory=list)

    @property
    def rows(self) -> list[TraceRow]:
        return [row for conn in self.connections for row in conn.rows]

    @property
    def retransmissions(self) -> int:
        return sum(conn.retransmissions for conn in self.connections)

    @property
    def violations(self) -> list[Violation]:
        return [v for conn in self.connections for v in conn.violations]

    def as_dicts(self) -> list[dict[str, object]]:
        """Every row as a plain dict (plus the connection's ports), for CSV/JSON."""
        out = []
        for conn in self.connections:
            for row in conn.rows:
                item = asdict(row)
                item["dut_state"] = str(row.dut_state)
                item["dut_port"] = conn.dut_port
                item["peer_port"] = conn.peer_port
                out.append(item)
        return out
