"""The model against the lwIP board (ci-fast build, `lwip-m3`): handshake, 1 MB each way
with the data verified (the agent's pattern, checked on both ends), the two ways to
close, and the oracle's view of each capture against the states the board's console
reports (`stat`, `conns`) and against tshark's retransmission marks."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.inventory import Inventory
from bench.lab.access import DutSession
from bench.model import ConnOptions, Peer, SegmentPattern, State
from bench.model.oracle import OracleResult, analyse
from firmware_adapters.dut import Dut
from tests.lab.labkit import running_lab

from .model_topology import is_subsequence

DUT = "lwip-m3"
PORT = 5001
ONE_MB = 1024 * 1024
FAST = ConnOptions(rto_min_s=0.2, rto_initial_s=1.0, time_wait_s=1.0)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix="hz-", duts=[DUT]) as inv:
        yield inv


@pytest.fixture
def peer(lab: Inventory, tmp_path: Path) -> Iterator[Peer]:
    bench = lab.bench
    p = Peer(f"{lab.lab.prefix}bench", bench.peer.interface, str(bench.peer.address),
             bench.peer.mac, pcap=tmp_path / "model.pcapng", defaults=FAST,
             remotes=[dut_ip(lab)])
    yield p
    p.close()


@pytest.fixture
def dut(lab: Inventory, tmp_path: Path) -> Iterator[Dut]:
    with DutSession(lab, DUT, tmp_path) as session:
        yield session


def dut_ip(lab: Inventory) -> str:
    return str(lab.dut(DUT).link.address.ip)


def pattern(n_bytes: int) -> bytes:
    """The agent's stream pattern (docs/console-protocol.md): byte k = k mod 251."""
    block = bytes(range(251))
    return (block * (n_bytes // 251 + 1))[:n_bytes]


def board_state(text: str) -> State:
    return State("SYN_RECEIVED" if text == "SYN_RCVD" else text)


class BoardStates:
    """The states the board reports for one connection, in the order seen."""

    def __init__(self, dut: Dut, local_port: int, peer_port: int) -> None:
        self.dut = dut
        self.ends = (f":{local_port}", f":{peer_port}")
        self.seen: list[State] = []

    def _add(self, state: State) -> State:
        if not self.seen or self.seen[-1] is not state:
            self.seen.append(state)
        return state

    def poll(self) -> State:
        """The connection's state in `conns` (TIME_WAIT entries have id 0); CLOSED when
        the stack no longer lists it."""
        for conn in self.dut.conns():
            if conn.local.endswith(self.ends[0]) and conn.remote.endswith(self.ends[1]):
                return self._add(board_state(conn.state))
        return self._add(State.CLOSED)

    def wait(self, state: State, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.poll() is not state:
            if time.monotonic() > deadline:
                raise AssertionError(f"board never reported {state}: saw {self.seen}")
            time.sleep(0.02)


def tshark_retransmissions(path: Path) -> list[int]:
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "tcp.analysis.retransmission",
                          "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True)
    return [int(n) for n in out.stdout.split()]


def check_capture(pcap: Path, ip: str) -> OracleResult:
    done = subprocess.run(["tshark", "-r", str(pcap), "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = analyse(pcap, ip)
    ours = sorted(r.frame_no for r in result.rows if r.retransmission)
    assert ours == tshark_retransmissions(pcap)
    return result


def test_handshake_negotiates_the_boards_options(lab: Inventory, peer: Peer, dut: Dut,
                                                tmp_path: Path) -> None:
    mss = int(dut.consts()["TCP_MSS"])
    lid = dut.listen(PORT, mode="check")
    try:
        conn = peer.connect(dut_ip(lab), PORT, ConnOptions(mss_bytes=1400))
        synack = conn.expect(SegmentPattern(flags="SA"), timeout_s=0)
        assert synack.segment.options.mss == mss
        event = dut.wait_event("accepted", 5, lid=str(lid))
        cid = int(event.fields["id"])
        assert dut.stat(cid)["state"] == "ESTABLISHED"
        assert conn.info().state is State.ESTABLISHED
        assert conn.info().smss_bytes == min(mss, 1400)
        dut.abort(cid)
    finally:
        dut.unlisten(lid)
    peer.flush_pcap()
    [trace] = [c for c in check_capture(tmp_path / "model.pcapng", dut_ip(lab)).connections
               if c.dut_port == PORT]
    assert trace.states[:3] == [State.CLOSED, State.LISTEN, State.SYN_RECEIVED]
    assert State.ESTABLISHED in trace.states and trace.states[-1] is State.CLOSED


@pytest.mark.parametrize("closer", ["peer_first", "dut_first"])
def test_one_mb_each_way_then_close(lab: Inventory, peer: Peer, dut: Dut, tmp_path: Path,
                                    closer: str) -> None:
    ip = dut_ip(lab)
    lid = dut.listen(PORT, mode="check")
    try:
        conn = peer.connect(ip, PORT)
        cid = int(dut.wait_event("accepted", 5, lid=str(lid)).fields["id"])
        board = BoardStates(dut, PORT, conn.local[1])
        board.wait(State.ESTABLISHED)

        start = time.monotonic()
        conn.send(pattern(ONE_MB))
        conn.wait_acked(60)
        up_s = time.monotonic() - start
        deadline = time.monotonic() + 10
        while int(dut.stat(cid).get("rx_bytes", 0)) < ONE_MB and time.monotonic() < deadline:
            time.sleep(0.05)
        stat = dut.stat(cid)
        assert int(stat["rx_bytes"]) == ONE_MB and int(stat["rx_bad"]) == 0, stat

        start = time.monotonic()
        dut.send(cid, ONE_MB)
        assert conn.recv_exactly(ONE_MB, 60) == pattern(ONE_MB)
        down_s = time.monotonic() - start
        dut.wait_event("sent", 10, id=str(cid))
        print(f"{closer}: model->board {ONE_MB / up_s / 1e6:.2f} MB/s, "
              f"board->model {ONE_MB / down_s / 1e6:.2f} MB/s")

        if closer == "peer_first":
            conn.shutdown()
            dut.wait_event("peer_closed", 5, id=str(cid))
            board.wait(State.CLOSE_WAIT)
            conn.wait_state(State.FIN_WAIT_2)
            dut.close_conn(cid)
            conn.wait_state(State.TIME_WAIT)
            board.wait(State.CLOSED)
            expected = [State.ESTABLISHED, State.CLOSE_WAIT, State.LAST_ACK, State.CLOSED]
        else:
            dut.close_conn(cid)
            conn.wait_state(State.CLOSE_WAIT)
            board.wait(State.FIN_WAIT_2)
            assert conn.recv(10, 5) == b""
            conn.close()
            conn.wait_state(State.CLOSED)
            board.wait(State.TIME_WAIT)
            expected = [State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
                        State.TIME_WAIT]
    finally:
        dut.unlisten(lid)
        peer.flush_pcap()

    result = check_capture(tmp_path / "model.pcapng", ip)
    [trace] = [c for c in result.connections if c.dut_port == PORT]
    print(f"board reported {[str(s) for s in board.seen]}; oracle "
          f"{[str(s) for s in trace.states]}; {result.retransmissions} retransmissions")
    assert is_subsequence(expected, trace.states), trace.states
    assert is_subsequence(board.seen, trace.states), (board.seen, trace.states)
    assert board.seen[-1] is trace.states[-1], (board.seen, trace.states)
    assert not trace.violations, trace.violations[:5]
    payload = sum(r.payload_bytes for r in trace.rows if not r.retransmission)
    assert payload >= 2 * ONE_MB
