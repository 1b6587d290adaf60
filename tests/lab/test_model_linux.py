"""The model against the Linux kernel's TCP (the linux-host DUT stand-in): handshake,
10 MB each way with the data verified, the three ways to close, and the oracle's view
of each capture against the kernel's own (sock_diag) and tshark's."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.model import ConnOptions, DropRule, Peer, SegmentPattern, State, Tolerance
from bench.model.oracle import OracleResult, analyse
from bench.model.states import from_linux
from bench.wire import LoopTuning

from .model_topology import StatePoller, Topology, is_subsequence, topology

TEN_MB = 10 * 1024 * 1024
PORT = 5001
# Short RTO floor like Linux's, so that a lost segment is resent in well under a second.
FAST = ConnOptions(rto_min_s=0.2, rto_initial_s=1.0, time_wait_s=2.0)


@pytest.fixture
def topo() -> Iterator[Topology]:
    with topology() as t:
        yield t


@pytest.fixture
def peer(topo: Topology, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Peer]:
    """The model on the link; a test may ask for an I/O loop tuning (indirect param)."""
    p = Peer(topo.peer_ns, topo.peer_if, topo.peer_ip, topo.peer_mac,
             pcap=tmp_path / "model.pcapng", defaults=FAST,
             tuning=getattr(request, "param", None))
    yield p
    p.close()


def pattern_bytes(n: int, salt: int) -> bytes:
    block = hashlib.sha256(salt.to_bytes(4, "big")).digest() * 4096  # 128 KiB
    return (block * (n // len(block) + 1))[:n]


def dut_server(topo: Topology, port: int = PORT) -> socket.socket:
    srv = topo.dut_socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((topo.dut_ip, port))
    srv.listen(8)
    srv.settimeout(10)
    return srv


def tshark_retransmissions(path: Path) -> list[int]:
    """Frame numbers tshark marks tcp.analysis.retransmission (plain, fast, spurious)."""
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "tcp.analysis.retransmission",
                          "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True)
    return [int(n) for n in out.stdout.split()]


def oracle_retransmissions(result: OracleResult) -> list[int]:
    return sorted(r.frame_no for r in result.rows if r.retransmission)


def assert_pcap_opens(path: Path) -> None:
    done = subprocess.run(["tshark", "-r", str(path), "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def transfer_both_ways(conn, dut: socket.socket, n_bytes: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """n_bytes model -> DUT, then DUT -> model, each verified; returns both rates (B/s)."""
    to_dut = pattern_bytes(n_bytes, 1)
    received = bytearray()

    def reader() -> None:
        while len(received) < n_bytes:
            chunk = dut.recv(1 << 20)
            if not chunk:
                return
            received.extend(chunk)

    thread = threading.Thread(target=reader)
    thread.start()
    start = time.monotonic()
    conn.send(to_dut)
    conn.wait_acked(120)
    thread.join(60)
    up_rate = n_bytes / (time.monotonic() - start)
    assert bytes(received) == to_dut

    from_dut = pattern_bytes(n_bytes, 2)
    writer = threading.Thread(target=dut.sendall, args=(from_dut,))
    start = time.monotonic()
    writer.start()
    got = conn.recv_exactly(n_bytes, 120)
    down_rate = n_bytes / (time.monotonic() - start)
    writer.join(60)
    assert got == from_dut
    return up_rate, down_rate


def test_handshake_negotiates_options(topo: Topology, peer: Peer) -> None:
    srv = dut_server(topo)
    conn = peer.connect(topo.dut_ip, PORT, ConnOptions(mss_bytes=1000, wscale=5))
    synack = conn.expect(SegmentPattern(flags="SA", options=("mss", "sack_perm", "ts",
                                                              "wscale")), timeout_s=0)
    assert synack.frame_no > 0 and synack.ts_ns > 0
    dut, _ = srv.accept()
    info = conn.info()
    assert info.state is State.ESTABLISHED
    assert info.smss_bytes == 1460 - 12 and info.sack_ok and info.ts_ok
    assert dut.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= 1000
    dut.close()
    srv.close()


@pytest.mark.parametrize("closer", ["peer_first", "dut_first", "simultaneous"])
def test_ten_mb_each_way_then_close(topo: Topology, peer: Peer, tmp_path: Path,
                                    closer: str) -> None:
    srv = dut_server(topo)
    poller = StatePoller(topo.dut_ns)
    try:
        conn = peer.connect(topo.dut_ip, PORT)
        dut, _ = srv.accept()
        up, down = transfer_both_ways(conn, dut, TEN_MB)
        print(f"{closer}: model->DUT {up / 1e6:.1f} MB/s, DUT->model {down / 1e6:.1f} MB/s")
        assert up > 3e6 and down > 3e6

        if closer == "peer_first":
            conn.shutdown()
            conn.wait_state(State.FIN_WAIT_2)
            assert dut.recv(10) == b""
            dut.close()
            conn.wait_state(State.TIME_WAIT)
            expected_path = [State.ESTABLISHED, State.CLOSE_WAIT, State.LAST_ACK, State.CLOSED]
        elif closer == "dut_first":
            dut.close()
            conn.wait_state(State.CLOSE_WAIT)
            assert conn.recv(10, 5) == b""
            conn.close()
            conn.wait_state(State.CLOSED)
            expected_path = [State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
                             State.TIME_WAIT]
        else:
            with peer.lock:  # the peer reads nothing until its own FIN is out
                dut.close()
                time.sleep(0.05)
                conn.shutdown()
            conn.wait_state(State.TIME_WAIT)
            expected_path = [State.ESTABLISHED, State.FIN_WAIT_1, State.CLOSING,
                             State.TIME_WAIT]
            assert State.CLOSING in conn.info().history
        time.sleep(0.3)
    finally:
        poller.stop()
        peer.flush_pcap()
        srv.close()

    pcap = tmp_path / "model.pcapng"
    assert_pcap_opens(pcap)
    result = analyse(pcap, topo.dut_ip)
    [trace] = [c for c in result.connections if c.dut_port == PORT]
    oracle_states = trace.states
    assert is_subsequence(expected_path, oracle_states), oracle_states
    kernel_states = [from_linux(s) for s in poller.states(PORT, conn.local[1])]
    assert kernel_states, "sock_diag never saw the connection"
    assert is_subsequence(kernel_states, oracle_states), (kernel_states, oracle_states)
    assert kernel_states[-1] is oracle_states[-1]
    assert not trace.violations, trace.violations[:5]
    assert oracle_retransmissions(result) == tshark_retransmissions(pcap)
    payload = sum(r.payload_bytes for r in trace.rows if not r.retransmission)
    assert payload >= 2 * TEN_MB


@pytest.mark.parametrize("peer", [None, LoopTuning(busy_poll_us=5000)], indirect=True,
                         ids=["sleeping-loop", "polling-loop"])
def test_retransmissions_agree_with_tshark(topo: Topology, peer: Peer,
                                           tmp_path: Path) -> None:
    """Losses both ways (the peer drops some of its own segments and some of the DUT's):
    the oracle's retransmission count equals tshark's, and both see some; the peer's
    timers (resends, 2MSL) fire whether its I/O thread sleeps or polls the socket."""
    srv = dut_server(topo)
    conn = peer.connect(topo.dut_ip, PORT)
    dut, _ = srv.accept()
    sport = conn.local[1]
    peer.add_drop_rule(DropRule("in", SegmentPattern(min_payload_len=1, sport=PORT),
                                count=3, skip=200))
    peer.add_drop_rule(DropRule("out", SegmentPattern(min_payload_len=1, sport=sport),
                                count=3, skip=200))
    transfer_both_ways(conn, dut, 2 * 1024 * 1024)
    assert conn.info().retransmitted_segments >= 1
    conn.shutdown()
    dut.close()
    conn.wait_state(State.TIME_WAIT)
    deadline = time.monotonic() + 5  # FAST: time_wait_s = 2.0
    while conn.info().state is not State.CLOSED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert conn.info().history[-2:] == (State.TIME_WAIT, State.CLOSED)
    peer.flush_pcap()
    srv.close()
    pcap = tmp_path / "model.pcapng"
    assert_pcap_opens(pcap)
    result = analyse(pcap, topo.dut_ip)
    assert result.retransmissions >= 3
    assert oracle_retransmissions(result) == tshark_retransmissions(pcap)


def test_closed_port_is_reset_and_blackhole_sees_syn_retries(topo: Topology,
                                                             peer: Peer) -> None:
    """A DUT connecting to a port nobody listens on gets RST+ACK; in blackhole mode it
    retries its SYN with backoff instead (measured with packetdrill tolerances)."""
    topo.dut_sysctl("net.ipv4.tcp_syn_retries", "2")
    client = topo.dut_socket()
    client.settimeout(5)
    with pytest.raises(ConnectionRefusedError):
        client.connect((topo.peer_ip, 7))
    client.close()
    rst = peer.expect(SegmentPattern(flags="RA", direction="out", sport=7), timeout_s=1)
    assert rst.frame_no > 0

    peer.blackhole(True, ports={9})
    peer.mark()
    client = topo.dut_socket()
    client.settimeout(10)
    thread = threading.Thread(target=lambda: pytest.raises(OSError, client.connect,
                                                           (topo.peer_ip, 9)))
    thread.start()
    first = peer.expect(SegmentPattern(flags="S", dport=9), timeout_s=2)
    # Linux's timers are jiffy-based: 5 % of the interval, as packetdrill's percent.
    tol = Tolerance(abs_s=0.004, percent=5.0)
    second = peer.expect(SegmentPattern(flags="S", dport=9), at_s=1.0,
                         after_ns=first.ts_ns, tolerance=tol)
    # Linux >= 6.5 retries SYNs linearly first (tcp_syn_linear_timeouts): 1 s, 1 s ...
    peer.expect(SegmentPattern(flags="S", dport=9), at_s=1.0, after_ns=second.ts_ns,
                tolerance=tol)
    thread.join(15)
    client.close()
    assert peer.stats.blackholed >= 3


def test_inexact_rst_gets_challenge_ack(topo: Topology, peer: Peer) -> None:
    """RFC 5961: an in-window RST that is not exactly RCV.NXT draws a challenge ACK and
    leaves the connection up; an exact one resets it."""
    srv = dut_server(topo)
    conn = peer.connect(topo.dut_ip, PORT)
    dut, _ = srv.accept()
    peer.mark()
    conn.inject("R", seq=conn.info().snd_nxt + 100)
    conn.expect(SegmentPattern(flags="A", ack=conn.info().snd_nxt), timeout_s=1)
    conn.send(b"still up")
    dut.settimeout(2)
    assert dut.recv(100) == b"still up"
    conn.inject("R")
    time.sleep(0.1)
    with pytest.raises(ConnectionResetError):
        dut.recv(100)
    srv.close()

