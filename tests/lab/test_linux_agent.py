"""The Linux host agent on real kernel sockets: two private namespaces joined by a veth.

`hbt-agent-<rand>` runs the agent (192.0.2.10/24); `hbt-agentb-<rand>` is the bench side
(192.0.2.1/24) whose sockets this test drives from threads that entered it with setns.
"""

from __future__ import annotations

import os
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import serial
from pyroute2 import netns

from bench.lab.netns import run_in
from tests.conftest import require_lab
from tests.lab.labkit import recv_exactly

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
AGENT_ADDR = "192.0.2.10"
BENCH_ADDR = "192.0.2.1"
MB = 1_000_000
T = TypeVar("T")


def expected_pattern(length: int) -> bytes:
    """byte[k] = k mod 251, computed here independently of the agent's code."""
    return bytes(k % 251 for k in range(length))


def parse_kv(tokens: list[str]) -> dict[str, str]:
    return dict(t.split("=", 1) for t in tokens if "=" in t)


class Console:
    """Minimal protocol v1 client: one request, data lines, one final line; events kept."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.events: list[tuple[str, dict[str, str]]] = []

    def _line(self, deadline: float) -> str | None:
        buf = b""
        while time.monotonic() < deadline:
            byte = self.port.read(1)
            if not byte:
                continue
            if byte == b"\n":
                return buf.decode("ascii")
            buf += byte
        return None

    def raw(self, data: bytes, timeout: float = 5.0) -> tuple[list[str], str]:
        """Send raw bytes; return (data lines, final line)."""
        self.port.write(data)
        deadline = time.monotonic() + timeout
        data_lines: list[str] = []
        while True:
            line = self._line(deadline)
            assert line is not None, f"no reply to {data!r}"
            if line.startswith("EVT "):
                name, *rest = line[4:].split()
                self.events.append((name, parse_kv(rest)))
            elif line.startswith("- "):
                data_lines.append(line)
            elif line.startswith(("OK ", "ERR ")):
                return data_lines, line

    def ok(self, request: str) -> dict[str, str]:
        _, final = self.raw(request.encode() + b"\n")
        assert final.startswith("OK "), f"{request!r} -> {final!r}"
        return parse_kv(final.split()[2:])

    def rows(self, request: str) -> list[dict[str, str]]:
        rows, final = self.raw(request.encode() + b"\n")
        assert final.startswith("OK "), f"{request!r} -> {final!r}"
        return [parse_kv(r.split()[1:]) for r in rows]

    def err(self, request: bytes) -> str:
        _, final = self.raw(request)
        assert final.startswith("ERR "), f"{request!r} -> {final!r}"
        return final

    def event(self, name: str, timeout: float = 10.0, **match: object) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            for i, (ev, fields) in enumerate(self.events):
                if ev == name and all(fields.get(k) == str(v) for k, v in match.items()):
                    del self.events[i]
                    return fields
            line = self._line(deadline)
            assert line is not None, f"no EVT {name} {match} (seen {self.events})"
            if line.startswith("EVT "):
                ev, *rest = line[4:].split()
                self.events.append((ev, parse_kv(rest)))

    def stat_until(self, cid: int, ok: Callable[[dict[str, str]], bool]) -> dict[str, str]:
        deadline = time.monotonic() + 15
        while True:
            stat = self.ok(f"stat {cid}")
            if ok(stat) or time.monotonic() > deadline:
                return stat
            time.sleep(0.05)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, str]]:
    """Two namespaces joined by a veth pair; both deleted afterwards."""
    require_lab()
    tag = secrets.token_hex(3)
    agent_ns, bench_ns = f"hbt-agent-{tag}", f"hbt-agentb-{tag}"
    try:
        _ip("netns", "add", agent_ns)
        _ip("netns", "add", bench_ns)
        _ip("-n", agent_ns, "link", "add", "eth0", "type", "veth",
            "peer", "name", "eth0", "netns", bench_ns)
        for ns, addr in ((agent_ns, AGENT_ADDR), (bench_ns, BENCH_ADDR)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", "eth0", "up")
        yield {"agent": agent_ns, "bench": bench_ns}
    finally:
        for ns in (agent_ns, bench_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="module")
def agent(lab: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The agent in the DUT namespace, its pty opened with pyserial."""
    tmp = tmp_path_factory.mktemp("agent")
    pty_file, log = tmp / "agent.pty", tmp / "agent.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.linux_agent", "--name", "linux-host",
         "--pty-file", str(pty_file), "--log", str(log)],
        cwd=ROOT,
        preexec_fn=lambda: netns.setns(lab["agent"], flags=0),
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "agent.err", "w"),
    )
    try:
        deadline = time.monotonic() + 15
        while not (pty_file.exists() and pty_file.read_text().strip()):
            assert proc.poll() is None, (tmp / "agent.err").read_text()
            assert time.monotonic() < deadline, "agent wrote no pty file"
            time.sleep(0.05)
        port = serial.serial_for_url(pty_file.read_text().strip(), timeout=0.1)
        try:
            yield Console(port)
        finally:
            port.close()
        assert proc.poll() is None, "agent died during the tests"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print(log.read_text()[-4000:] if log.exists() else "no agent log")


def bench_listener(lab: dict[str, str], port: int) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((BENCH_ADDR, port))
        sock.listen(8)
        sock.settimeout(10)
        return sock

    return run_in(lab["bench"], make)


def bench_connect(lab: dict[str, str], port: int) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect((AGENT_ADDR, port))
        return sock

    return run_in(lab["bench"], make)


def agent_connects(agent: Console, listener: socket.socket, port: int) -> tuple[int, socket.socket]:
    cid = int(agent.ok(f"connect {BENCH_ADDR} {port}")["id"])
    peer, _ = listener.accept()
    peer.settimeout(10)
    agent.event("connected", id=cid)
    return cid, peer


# ---- tests ---------------------------------------------------------------------------


def test_hello(agent: Console) -> None:
    hello = agent.ok("hello")
    assert hello["name"] == "linux-host"
    assert hello["proto"] == "1"
    assert hello["stack"].startswith("linux-")
    assert hello["build"].startswith(os.uname().release)


def test_agent_sends_one_megabyte_of_pattern(agent: Console, lab: dict[str, str]) -> None:
    listener = bench_listener(lab, 6001)
    with listener:
        cid, peer = agent_connects(agent, listener, 6001)
        with peer:
            assert agent.ok(f"send {cid} {MB}") == {"id": str(cid), "queued": str(MB)}
            assert recv_exactly(peer, MB) == expected_pattern(MB)
            agent.event("sent", id=cid, bytes=MB)
            stat = agent.ok(f"stat {cid}")
            assert stat["state"] == "ESTABLISHED"
            assert stat["tx_bytes"] == str(MB) and stat["tx_acked"] == str(MB)
            assert stat["remote"] == f"{BENCH_ADDR}:6001"
            assert int(stat["mss"]) > 0 and int(stat["cwnd"]) > 0 and stat["ca"]
            agent.ok(f"abort {cid}")
            agent.event("closed", id=cid)


def test_agent_checks_one_megabyte_received(agent: Console, lab: dict[str, str]) -> None:
    lid = agent.ok("listen 5001 mode=check")["lid"]
    with bench_connect(lab, 5001) as sock:
        accepted = agent.event("accepted", lid=lid)
        assert accepted["local"] == f"{AGENT_ADDR}:5001"
        assert accepted["remote"] == "{}:{}".format(*sock.getsockname())
        sock.sendall(expected_pattern(MB))
        cid = int(accepted["id"])
        stat = agent.stat_until(cid, lambda s: s["rx_bytes"] == str(MB))
        assert stat["rx_bytes"] == str(MB) and stat["rx_bad"] == "0"
        assert stat["mode"] == "check" and stat["lid"] == lid
        sock.sendall(b"\x00\x00")  # 1000000 % 251 = 16, so two zero bytes are both wrong
        stat = agent.stat_until(cid, lambda s: s["rx_bytes"] == str(MB + 2))
        assert stat["rx_bad"] == "2"
        sock.close()
        agent.event("peer_closed", id=cid)
        state = agent.ok(f"stat {cid}")["state"]
        assert state == "CLOSE_WAIT"
        agent.ok(f"close {cid}")
        agent.event("closed", id=cid)
    agent.ok(f"unlisten {lid}")


def test_echo_mode(agent: Console, lab: dict[str, str]) -> None:
    lid = agent.ok("listen 5002 mode=echo")["lid"]
    payload = secrets.token_bytes(200_000)
    with bench_connect(lab, 5002) as sock:
        cid = agent.event("accepted", lid=lid)["id"]
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        stat = agent.ok(f"stat {cid}")
        assert stat["rx_bytes"] == stat["tx_bytes"] == str(len(payload))
        agent.ok(f"abort {cid}")
    agent.ok(f"unlisten {lid}")


def test_agent_closes_first_and_conns_lists_time_wait(agent: Console, lab: dict[str, str]) -> None:
    with bench_listener(lab, 6002) as listener:
        cid, peer = agent_connects(agent, listener, 6002)
        rows = agent.rows("conns")
        mine = [r for r in rows if r["id"] == str(cid)]
        assert mine and mine[0]["state"] == "ESTABLISHED" and "age_ms" in mine[0]
        local = mine[0]["local"]
        agent.ok(f"send {cid} 1000")
        agent.ok(f"close {cid}")
        agent.event("closed", id=cid)
        assert recv_exactly(peer, 2000) == expected_pattern(1000)  # then EOF: the FIN
        peer.close()
    deadline = time.monotonic() + 10
    while True:
        rows = agent.rows("conns")
        tw = [r for r in rows if r["state"] == "TIME_WAIT" and r["local"] == local]
        if tw or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert tw, rows
    assert tw[0]["id"] == "0" and tw[0]["remote"] == f"{BENCH_ADDR}:6002"
    assert 0 < int(tw[0]["expires_ms"]) <= 60_000


def test_abort_sends_rst(agent: Console, lab: dict[str, str]) -> None:
    with bench_listener(lab, 6003) as listener:
        cid, peer = agent_connects(agent, listener, 6003)
        with peer:
            agent.ok(f"abort {cid}")
            agent.event("closed", id=cid)
            with pytest.raises(ConnectionResetError):
                peer.recv(1)


def test_peer_reset_is_reported(agent: Console, lab: dict[str, str]) -> None:
    with bench_listener(lab, 6004) as listener:
        cid, peer = agent_connects(agent, listener, 6004)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()
        agent.event("error", id=cid, code="ECONNRESET")
        agent.event("closed", id=cid)
    assert agent.err(f"stat {cid}\n".encode()).startswith("ERR ENOENT")


def test_connect_refused(agent: Console) -> None:
    cid = agent.ok(f"connect {BENCH_ADDR} 6999")["id"]
    agent.event("error", id=cid, code="ECONNREFUSED")


def test_hold_mode_fills_the_window(agent: Console, lab: dict[str, str]) -> None:
    lid = agent.ok("listen 5003 mode=hold")["lid"]
    with bench_connect(lab, 5003) as sock:
        cid = agent.event("accepted", lid=lid)["id"]
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the agent's receive window is closed
            try:
                sent += sock.send(b"\x00" * 65536)
            except BlockingIOError:
                time.sleep(0.2)
                try:
                    sent += sock.send(b"\x00" * 65536)
                except BlockingIOError:
                    break
        assert agent.ok(f"stat {cid}")["rx_bytes"] == "0"
        agent.ok(f"rx {cid} discard")
        stat = agent.stat_until(cid, lambda s: int(s["rx_bytes"]) >= sent)
        assert int(stat["rx_bytes"]) == sent
        agent.ok(f"abort {cid}")
    agent.ok(f"unlisten {lid}")


def test_shutdown_sends_fin_after_queued_data(agent: Console, lab: dict[str, str]) -> None:
    with bench_listener(lab, 6005) as listener:
        cid, peer = agent_connects(agent, listener, 6005)
        with peer:
            agent.ok(f"send {cid} 300000")
            agent.ok(f"shutdown {cid}")
            assert recv_exactly(peer, 400000) == expected_pattern(300000)
            agent.event("sent", id=cid, bytes=300000)
            peer.sendall(b"still open")
            assert agent.stat_until(cid, lambda s: s["rx_bytes"] == "10")["rx_bytes"] == "10"
            agent.ok(f"abort {cid}")


def test_udp_echo_and_count(agent: Console, lab: dict[str, str]) -> None:
    agent.ok("udp bind 7007 mode=echo")

    def echo() -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"ping", (AGENT_ADDR, 7007))
            return sock.recv(100)

    assert run_in(lab["bench"], echo) == b"ping"
    stat = agent.ok("udp stat 7007")
    assert (stat["rx_dgrams"], stat["rx_bytes"], stat["tx_dgrams"]) == ("1", "4", "1")


def test_link_and_counters(agent: Console) -> None:
    link = agent.ok("link")
    assert link["addr"] == f"{AGENT_ADDR}/24" and link["up"] == "1" and link["mtu"] == "1500"
    link = agent.ok("link set mtu=1400 initcwnd=4")
    assert link["mtu"] == "1400" and link["initcwnd"] == "4"
    link = agent.ok("link set mtu=1500 initcwnd=0")
    assert link["mtu"] == "1500" and "initcwnd" not in link
    counters = agent.ok("counters")
    assert int(counters["ActiveOpens"]) >= 1 and int(counters["PassiveOpens"]) >= 1


def test_each_send_is_acknowledged_and_close_waits_for_queued_data(
    agent: Console, lab: dict[str, str]
) -> None:
    with bench_listener(lab, 6007) as listener:
        cid, peer = agent_connects(agent, listener, 6007)
        with peer:
            agent.ok(f"send {cid} 1000")
            agent.ok(f"send {cid} 2000")
            agent.event("sent", id=cid, bytes=1000)
            agent.event("sent", id=cid, bytes=2000)
            assert recv_exactly(peer, 3000) == expected_pattern(3000)
            agent.ok(f"send {cid} {4 * MB}")  # far more than the socket buffers hold
            agent.ok(f"close {cid}")
            got = recv_exactly(peer, 5 * MB)  # reads until the agent's FIN
            assert len(got) == 4 * MB and got == expected_pattern(3000 + 4 * MB)[3000:]
            agent.event("closed", id=cid)


def test_connect_from_a_chosen_port(agent: Console, lab: dict[str, str]) -> None:
    with bench_listener(lab, 6006) as listener:
        cid = int(agent.ok(f"connect {BENCH_ADDR} 6006 lport=40001 mode=check")["id"])
        peer, remote = listener.accept()
        with peer:
            assert remote == (AGENT_ADDR, 40001)
            assert agent.event("connected", id=cid)["local"] == f"{AGENT_ADDR}:40001"
            peer.sendall(expected_pattern(5000))
            stat = agent.stat_until(cid, lambda s: s["rx_bytes"] == "5000")
            assert stat["rx_bad"] == "0" and stat["mode"] == "check"
            agent.ok(f"abort {cid}")


def test_console_survives_client_reopen(agent: Console) -> None:
    agent.port.close()
    agent.port.open()
    assert agent.ok("hello")["proto"] == "1"


def test_garbage_gets_errors(agent: Console) -> None:
    assert agent.err(b"frobnicate\n").startswith("ERR EUNKNOWN")
    assert agent.err(b"send one two\n").startswith("ERR EINVAL")
    assert agent.err(b"\xff\xfe\x00\n").startswith("ERR EINVAL")
    assert agent.err(b"x" * 300 + b"\n").startswith("ERR EINVAL")
    assert agent.err(b"stat 999\r\n").startswith("ERR ENOENT")
    assert agent.ok("hello")["proto"] == "1"  # still serving


def test_set_then_consts_then_reboot_restores(agent: Console) -> None:
    before = agent.ok("consts")["tcp_synack_retries"]
    assert agent.ok("set tcp_synack_retries 2") == {"tcp_synack_retries": "2"}
    assert agent.ok("consts")["tcp_synack_retries"] == "2"
    assert agent.err(b"set tcp_nonexistent 1\n").startswith("ERR EINVAL")
    agent.ok("listen 5009")
    agent.ok("reboot")
    boot = agent.event("boot")
    assert boot["name"] == "linux-host" and boot["proto"] == "1"
    assert agent.ok("consts")["tcp_synack_retries"] == before
    assert not [r for r in agent.rows("conns") if r["state"] == "LISTEN"]
