"""The pure parts of the flow-control measurements: flight against window, right-edge
shrinking, the receiver's window update (synthetic oracle rows, no lab)."""

from __future__ import annotations

from bench.measure.flow_control import first_update, flight_ratios, shrinking_rows
from bench.model.oracle import TraceRow
from bench.model.states import State


def row(frame: int, direction: str, ack: int = 0, window: int = 0, payload: int = 0,
        flight: int = 0, t_ms: int = 0, flags: str = "A") -> TraceRow:
    return TraceRow(t_ms * 1_000_000, frame, direction, flags, 1, ack, payload, window, (),
                    (), False, "", False, False, 0, flight, 0, State.ESTABLISHED)


def test_flight_ratio_uses_the_last_window_and_skips_syns() -> None:
    rows = [row(1, "rx", window=65535, flags="S"), row(2, "rx", window=2000),
            row(3, "tx", payload=1000, flight=1000), row(4, "tx", payload=1000, flight=2000),
            row(5, "rx", window=4000), row(6, "tx", payload=1000, flight=3000)]
    assert [(r.frame_no, w, q) for r, w, q in flight_ratios(rows)] == [
        (3, 2000, 0.5), (4, 2000, 1.0), (6, 4000, 0.75)]


def test_a_stale_ack_is_no_shrink_but_a_smaller_edge_is() -> None:
    rows = [row(1, "tx", ack=100, window=1000), row(2, "tx", ack=50, window=900),
            row(3, "tx", ack=200, window=900), row(4, "tx", ack=300, window=700)]
    assert [r.frame_no for r in shrinking_rows(rows)] == [4]


def test_window_update_is_unprompted_only_without_a_peer_segment_just_before() -> None:
    rows = [row(1, "tx", window=0, t_ms=0), row(2, "rx", t_ms=100),
            row(3, "tx", window=0, t_ms=101), row(4, "tx", window=4000, t_ms=300)]
    update = first_update(rows, from_frame=3, closed_below=536)
    assert update == {"frame": 4, "window_bytes": 4000, "unprompted": True,
                      "since_peer_ms": 200.0}
    prompted = rows[:3] + [row(4, "rx", t_ms=299), row(5, "tx", window=4000, t_ms=300)]
    assert first_update(prompted, from_frame=3, closed_below=536)["unprompted"] is False
    assert first_update(rows, from_frame=None) is None
