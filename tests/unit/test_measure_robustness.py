"""DT-01's checks on an oracle trace: sequence numbers count bytes, ACKs are cumulative."""

from __future__ import annotations

from bench.measure.robustness import _ack_problems, _seq_gaps
from bench.model.oracle import ConnectionTrace, TraceRow
from bench.model.states import State


def row(frame: int, direction: str, flags: str, seq: int, ack: int, size: int,
        retransmission: bool = False) -> TraceRow:
    return TraceRow(frame * 1000, frame, direction, flags, seq, ack, size, 65535, (), (),
                    retransmission, "", False, False, 0, 0, 0, State.ESTABLISHED)


def trace(*rows: TraceRow) -> ConnectionTrace:
    return ConnectionTrace(7010, "192.0.2.2", 40000, rows=list(rows))


def test_contiguous_data_and_boundary_acks_are_clean() -> None:
    t = trace(row(1, "rx", "PA", 1, 1, 100), row(2, "tx", "A", 1, 101, 0),
              row(3, "rx", "PA", 101, 1, 50), row(4, "tx", "PA", 1, 151, 80),
              row(5, "tx", "PA", 81, 151, 70))
    assert _seq_gaps(t) == ([], 2)
    assert _ack_problems(t) == ([], 3, 151)


def test_a_hole_in_the_dut_data_is_reported() -> None:
    t = trace(row(1, "tx", "PA", 1, 1, 100), row(2, "tx", "PA", 150, 1, 10))
    bad, checked = _seq_gaps(t)
    assert checked == 2 and [f for f, _ in bad] == [2]


def test_retransmissions_are_not_gaps() -> None:
    t = trace(row(1, "tx", "PA", 1, 1, 100), row(2, "tx", "PA", 1, 1, 100, True),
              row(3, "tx", "PA", 101, 1, 10))
    assert _seq_gaps(t) == ([], 2)


def test_acks_inside_a_segment_beyond_it_or_backwards_are_reported() -> None:
    t = trace(row(1, "rx", "PA", 1, 1, 100), row(2, "tx", "A", 1, 51, 0),
              row(3, "tx", "A", 1, 201, 0), row(4, "rx", "PA", 101, 1, 100),
              row(5, "tx", "A", 1, 201, 0), row(6, "tx", "A", 1, 101, 0))
    bad, checked, last = _ack_problems(t)
    assert [f for f, _ in bad] == [2, 3, 6] and checked == 4 and last == 201
