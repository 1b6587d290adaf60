"""The oracle on hand-built captures: state timelines, Wireshark-style retransmission
marks, and each violation it knows, across the sequence-number wrap."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.model import options as opt
from bench.model.oracle import analyse, analyse_segments
from bench.model.segment import Segment, build_frame, flags_from
from bench.model.states import State
from bench.wire.pcapng import INBOUND, OUTBOUND, PcapngWriter
from tests.conftest import skip_or_fail

DUT, PEER = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 2])
DUT_ISN = 0xFFFFFFF0  # wraps after 16 bytes
PEER_ISN = 5000


class Capture:
    """Builds a capture segment by segment; times in ms from an arbitrary start."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def dut(self, flags: str, seq: int, ack: int = 0, payload: bytes = b"", window: int = 65535,
            at_ms: float = 0.0, options_raw: bytes = b"") -> None:
        self._add(DUT, PEER, 80, 40000, flags, DUT_ISN + seq, PEER_ISN + ack if ack else 0,
                  payload, window, at_ms, options_raw)

    def peer(self, flags: str, seq: int, ack: int = 0, payload: bytes = b"",
             window: int = 65535, at_ms: float = 0.0, options_raw: bytes = b"") -> None:
        self._add(PEER, DUT, 40000, 80, flags, PEER_ISN + seq, DUT_ISN + ack if ack else 0,
                  payload, window, at_ms, options_raw)

    def _add(self, src: bytes, dst: bytes, sport: int, dport: int, flags: str, seq: int,
             ack: int, payload: bytes, window: int, at_ms: float, options_raw: bytes) -> None:
        self.segments.append(Segment(
            src, dst, sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags_from(flags),
            window, options_raw, payload, ts_ns=1_000_000_000_000 + int(at_ms * 1e6),
            frame_no=len(self.segments) + 1))

    def run(self):  # type: ignore[no-untyped-def]
        return analyse_segments(self.segments, "192.0.2.10")


def handshake_dut_client(cap: Capture, peer_mss: int = 1460, peer_window: int = 65535) -> None:
    cap.dut("S", 0, options_raw=opt.build(mss=1460), at_ms=0)
    cap.peer("SA", 0, 1, options_raw=opt.build(mss=peer_mss), window=peer_window, at_ms=1)
    cap.dut("A", 1, 1, at_ms=2)


def test_active_close_with_merged_fin_ack_goes_straight_to_time_wait() -> None:
    cap = Capture()
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"x" * 100, at_ms=3)
    cap.peer("A", 1, 101, at_ms=4)
    cap.dut("FA", 101, 1, at_ms=5)
    cap.peer("FA", 1, 102, at_ms=6)
    cap.dut("A", 102, 2, at_ms=7)
    [conn] = cap.run().connections
    assert conn.states == [State.CLOSED, State.SYN_SENT, State.ESTABLISHED,
                           State.FIN_WAIT_1, State.TIME_WAIT]
    assert conn.dut_is_client
    assert [r.rel_seq for r in conn.rows if r.direction == "tx"] == [0, 1, 1, 101, 102]
    assert conn.rows[3].payload_bytes == 100 and conn.rows[4].rel_ack == 101
    assert not conn.violations


def test_time_wait_ends_where_the_capture_shows_the_dut_closed() -> None:
    """A quiet probe (one byte at the peer's FIN, no ACK) gets nothing while the DUT
    holds TIME_WAIT and a RST once it has forgotten the connection: the timeline ends
    TIME_WAIT at that RST; a capture that never shows it leaves TIME_WAIT open."""
    cap = Capture()
    handshake_dut_client(cap)
    cap.dut("FA", 1, 1, at_ms=3)
    cap.peer("FA", 1, 2, at_ms=4)
    cap.dut("A", 2, 2, at_ms=5)
    cap.peer("", 1, 0, b"p", at_ms=30_000)  # inside TIME_WAIT: no answer
    [conn] = cap.run().connections
    assert conn.states[-1] is State.TIME_WAIT  # still open at the end of the capture
    cap.peer("", 1, 0, b"p", at_ms=60_100)
    cap.dut("RA", -DUT_ISN, 2, at_ms=60_100.2)  # CLOSED answers a segment without ACK
    [conn] = cap.run().connections
    entered, ended = conn.timeline[-2:]
    assert (entered.state, ended.state) == (State.TIME_WAIT, State.CLOSED)
    assert ended.frame_no == len(cap.segments)
    assert (ended.time_ns - entered.time_ns) / 1e9 == pytest.approx(60.0962)


def test_passive_close_and_simultaneous_close_paths() -> None:
    cap = Capture()
    cap.peer("S", 0, at_ms=0)
    cap.dut("SA", 0, 1, at_ms=1)
    cap.peer("A", 1, 1, at_ms=2)
    cap.peer("FA", 1, 1, at_ms=3)
    cap.dut("A", 1, 2, at_ms=4)
    cap.dut("FA", 1, 2, at_ms=5)
    cap.peer("A", 2, 2, at_ms=6)
    [conn] = cap.run().connections
    assert conn.states[-4:] == [State.ESTABLISHED, State.CLOSE_WAIT, State.LAST_ACK,
                                State.CLOSED]

    cap = Capture()
    handshake_dut_client(cap)
    cap.dut("FA", 1, 1, at_ms=3)
    cap.peer("FA", 1, 1, at_ms=3.1)  # crossed: does not ack the DUT's FIN
    cap.dut("A", 2, 2, at_ms=4)
    cap.peer("A", 2, 2, at_ms=4.1)
    [conn] = cap.run().connections
    assert conn.states[-3:] == [State.FIN_WAIT_1, State.CLOSING, State.TIME_WAIT]


def test_retransmission_kinds_like_wireshark() -> None:
    cap = Capture()
    handshake_dut_client(cap)
    cap.dut("A", 1, 1, b"a" * 100, at_ms=10)
    cap.dut("A", 101, 1, b"b" * 100, at_ms=10.1)
    cap.dut("A", 1, 1, b"a" * 100, at_ms=250)  # timeout retransmission
    cap.peer("A", 1, 201, at_ms=251)
    cap.dut("A", 201, 1, b"c" * 100, at_ms=260)
    cap.dut("A", 301, 1, b"d" * 100, at_ms=260.1)
    cap.dut("A", 401, 1, b"e" * 100, at_ms=260.2)
    cap.peer("A", 1, 201, at_ms=261)
    cap.peer("A", 1, 201, at_ms=261.1)
    cap.peer("A", 1, 201, at_ms=261.2)
    cap.dut("A", 201, 1, b"c" * 100, at_ms=262)  # fast retransmission
    cap.dut("A", 1, 1, b"a" * 100, at_ms=300)  # spurious: already ACKed
    [conn] = cap.run().connections
    kinds = [r.retransmission_kind for r in conn.rows if r.retransmission]
    assert kinds == ["retransmission", "fast", "spurious"]
    assert [r.dup_ack_count for r in conn.rows if r.dup_ack] == [1, 2, 3]
    assert [v.kind for v in conn.violations] == ["spurious_retransmission"]
    assert conn.retransmissions == 3


def test_violations_mss_window_ack_and_data_after_fin() -> None:
    cap = Capture()
    handshake_dut_client(cap, peer_mss=536, peer_window=1000)
    cap.dut("A", 1, 1, b"m" * 600, at_ms=3)
    cap.peer("A", 1, 601, window=1000, at_ms=4)  # right edge 1601
    cap.dut("A", 601, 1, b"w" * 500, at_ms=5)
    cap.dut("A", 1101, 1, b"w" * 536, at_ms=5.1)
    cap.dut("A", 1637, 5000, at_ms=6)
    cap.dut("FA", 1637, 1, at_ms=7)
    cap.dut("A", 1638, 1, b"late", at_ms=8)
    [conn] = cap.run().connections
    kinds = [v.kind for v in conn.violations]
    assert kinds == ["above_mss", "beyond_window", "ack_unsent_data", "beyond_window",
                     "data_after_fin"]
    assert conn.violations[0].frame_no == 4


def test_inexact_rst_accepted_is_flagged() -> None:
    cap = Capture()
    handshake_dut_client(cap)
    cap.peer("R", 50, at_ms=3)
    cap.dut("R", 1, at_ms=4)
    [conn] = cap.run().connections
    assert [v.kind for v in conn.violations] == ["rst_accepted_inexact"]
    assert conn.states[-1] is State.CLOSED


def test_new_syn_after_close_is_a_new_connection(tmp_path: Path) -> None:
    cap = Capture()
    handshake_dut_client(cap)
    cap.dut("R", 1, at_ms=3)
    cap.segments.append(Segment(DUT, PEER, 80, 40000, 1234, 0, flags_from("S"), 100,
                                ts_ns=1_000_000_010_000, frame_no=5))
    path = tmp_path / "c.pcapng"
    writer = PcapngWriter(path)
    for seg in cap.segments:
        src_mac = b"\x02" * 6
        writer.write(build_frame(seg, src_mac, b"\x04" * 6), seg.ts_ns,
                     OUTBOUND if seg.src_ip == DUT else INBOUND)
    writer.close()
    result = analyse(path, "192.0.2.10")
    assert len(result.connections) == 2
    assert result.connections[1].states == [State.CLOSED, State.SYN_SENT]
    assert result.as_dicts()[0]["frame_no"] == 1


# --- Retransmissions of SYN, SYN-ACK and FIN, each checked against tshark as well ---

def _fin_only_after_rto(cap: Capture) -> None:
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"x" * 100, at_ms=3)
    cap.peer("A", 1, 101, at_ms=4)
    cap.dut("FA", 101, 1, at_ms=5)
    cap.dut("FA", 101, 1, at_ms=210)  # the peer was slow: the bare FIN again
    cap.peer("FA", 1, 102, at_ms=211)
    cap.dut("A", 102, 2, at_ms=212)


def _fin_only_within_first_rtt(cap: Capture) -> None:
    """Within the handshake RTT, yet not out-of-order: Wireshark counts the FIN as one
    sequence number there, so a resent bare FIN never looks like a late segment."""
    handshake_dut_client(cap)
    cap.dut("FA", 1, 1, at_ms=5)
    cap.dut("FA", 1, 1, at_ms=5.5)


def _fin_resent_with_data(cap: Capture) -> None:
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"a" * 100, at_ms=5)
    cap.dut("FPA", 101, 1, b"b" * 100, at_ms=5.1)
    cap.peer("A", 1, 101, at_ms=6)
    cap.dut("FPA", 101, 1, b"b" * 100, at_ms=300)


def _data_resent_with_new_fin(cap: Capture) -> None:
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"y" * 50, at_ms=5)
    cap.dut("FA", 51, 1, at_ms=6)
    cap.dut("FPA", 1, 1, b"y" * 50, at_ms=250)


def _bare_fin_overlapping_sent_data(cap: Capture) -> None:
    """A zero-length FIN whose sequence number lies inside data already sent."""
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"a" * 100, at_ms=5)
    cap.dut("FA", 1, 1, at_ms=300)


def _syn_resent(cap: Capture) -> None:
    cap.dut("S", 0, at_ms=0)
    cap.dut("S", 0, at_ms=1000)
    cap.peer("SA", 0, 1, at_ms=1001)
    cap.dut("A", 1, 1, at_ms=1002)


def _syn_resent_quickly(cap: Capture) -> None:
    cap.dut("S", 0, at_ms=0)
    cap.dut("S", 0, at_ms=1)  # inside the 3 ms out-of-order threshold: still a resend
    cap.peer("SA", 0, 1, at_ms=2)
    cap.dut("A", 1, 1, at_ms=3)


def _synack_resent(cap: Capture) -> None:
    cap.peer("S", 0, at_ms=0)
    cap.dut("SA", 0, 1, at_ms=1)
    cap.dut("SA", 0, 1, at_ms=1001)
    cap.peer("A", 1, 1, at_ms=1002)


def _simultaneous_close_fin_resent(cap: Capture) -> None:
    handshake_dut_client(cap)
    cap.dut("FA", 1, 1, at_ms=3)
    cap.peer("FA", 1, 1, at_ms=53)  # crossed FINs; the peer's ACK of the DUT's is late
    cap.dut("A", 2, 2, at_ms=53.1)
    cap.dut("FA", 1, 2, at_ms=253)
    cap.peer("A", 2, 2, at_ms=253.1)


def _spurious_before_out_of_order(cap: Capture) -> None:
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"a" * 100, at_ms=5)
    cap.peer("A", 1, 101, at_ms=5.2)
    cap.dut("PA", 1, 1, b"a" * 100, at_ms=5.5)  # within the RTT, but already ACKed


RESENDS = {
    "fin_only_after_rto": (_fin_only_after_rto, [7], "retransmission"),
    "fin_only_within_first_rtt": (_fin_only_within_first_rtt, [5], "retransmission"),
    "fin_resent_with_data": (_fin_resent_with_data, [7], "retransmission"),
    "data_resent_with_new_fin": (_data_resent_with_new_fin, [6], "retransmission"),
    "bare_fin_overlapping_sent_data": (_bare_fin_overlapping_sent_data, [5],
                                       "retransmission"),
    "syn_resent": (_syn_resent, [2], "retransmission"),
    "syn_resent_quickly": (_syn_resent_quickly, [2], "retransmission"),
    "synack_resent": (_synack_resent, [3], "retransmission"),
    "simultaneous_close_fin_resent": (_simultaneous_close_fin_resent, [7],
                                      "retransmission"),
    "spurious_before_out_of_order": (_spurious_before_out_of_order, [6], "spurious"),
}


def _write_pcap(cap: Capture, path: Path) -> Path:
    writer = PcapngWriter(path)
    for seg in cap.segments:
        writer.write(build_frame(seg, b"\x02" * 6, b"\x04" * 6), seg.ts_ns,
                     OUTBOUND if seg.src_ip == DUT else INBOUND)
    writer.close()
    return path


@pytest.mark.parametrize("case", sorted(RESENDS))
def test_resent_syn_synack_and_fin_are_retransmissions(case: str) -> None:
    build, frames, kind = RESENDS[case]
    cap = Capture()
    build(cap)
    [conn] = cap.run().connections
    assert [r.frame_no for r in conn.rows if r.retransmission] == frames
    assert {r.retransmission_kind for r in conn.rows if r.retransmission} == {kind}


@pytest.mark.parametrize("case", sorted(RESENDS))
def test_tshark_marks_the_same_frames(case: str, tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        skip_or_fail("tshark is not installed")
    cap = Capture()
    RESENDS[case][0](cap)
    path = _write_pcap(cap, tmp_path / f"{case}.pcapng")
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "tcp.analysis.retransmission",
                          "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    ours = [r.frame_no for r in analyse(path, "192.0.2.10").rows if r.retransmission]
    assert ours == [int(n) for n in out.split()]


def test_frame_stamped_before_the_last_new_data_is_not_out_of_order() -> None:
    """Wireshark's time differences are unsigned: a capture slightly out of time order
    (or a frame without a stamp) makes a resend a plain retransmission, never 'ooo'."""
    cap = Capture()
    handshake_dut_client(cap)
    cap.dut("PA", 1, 1, b"a" * 100, at_ms=5)
    cap.dut("PA", 101, 1, b"b" * 100, at_ms=5.2)
    cap.dut("PA", 1, 1, b"a" * 100, at_ms=5.1)
    [conn] = cap.run().connections
    assert [r.retransmission_kind for r in conn.rows if r.retransmission] == [
        "retransmission"]
