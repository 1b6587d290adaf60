"""Issue 3's timing check: with the reference peer withholding its ACKs, the stock lwIP
board retransmits on its RTO schedule (initial RTO 3 s, doubling: 3, 6, 12 s apart),
each interval within one 500 ms slow-timer tick, timed from kernel timestamps in the
capture (never from Python's clock)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.lab.access import DutSession
from bench.model import Peer
from bench.model.pattern import SegmentPattern
from tests.lab.labkit import running_lab

TICK_S = 0.5  # lwIP's TCP_SLOW_INTERVAL: its retransmission timer's granularity
STOCK_SCHEDULE_S = [3.0, 6.0, 12.0]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix="hr-", duts=["lwip-m3-stock"]) as inv:
        yield inv


@pytest.mark.slow
def test_stock_board_retransmits_on_its_rto_schedule(lab: Inventory, tmp_path: Path) -> None:
    pcap = tmp_path / "rto.pcapng"
    bench = lab.bench
    peer = Peer(f"{lab.lab.prefix}bench", bench.peer.interface, str(bench.peer.address),
                bench.peer.mac, pcap=pcap)
    try:
        peer.listen(5005)
        with DutSession(lab, "lwip-m3-stock", tmp_path) as dut:
            cid = dut.connect(str(bench.peer.address), 5005)
            conn = peer.accept(5005, timeout_s=5)
            dut.wait_event("connected", 5, id=str(cid))
            conn.hold_acks(True)
            dut.send(cid, 100)
            first = conn.expect(SegmentPattern(payload_len=100), timeout_s=5)
            sends = [first]
            for expected_s in STOCK_SCHEDULE_S:
                same_seq = SegmentPattern(payload_len=100,
                                          where=lambda s, q=first.segment.seq: s.seq == q)
                sends.append(conn.expect(same_seq, timeout_s=expected_s + 2 * TICK_S + 1,
                                         relative=False))
            dut.abort(cid)
    finally:
        peer.close()
    intervals_s = [(b.ts_ns - a.ts_ns) / 1e9 for a, b in zip(sends, sends[1:], strict=False)]
    frames = [m.frame_no for m in sends]
    print(f"stock lwIP retransmission intervals {intervals_s} s, frames {frames} in {pcap}")
    for measured, expected in zip(intervals_s, STOCK_SCHEDULE_S, strict=True):
        assert abs(measured - expected) <= TICK_S, (
            f"retransmission intervals {intervals_s} s, expected {STOCK_SCHEDULE_S} s "
            f"+-{TICK_S} s; evidence {pcap} frames {frames}")
    assert subprocess.run(["tshark", "-r", str(pcap), "-q"], capture_output=True).returncode == 0
