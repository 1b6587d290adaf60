"""A two-namespace topology for the model's lab tests (not the lab's hb-* namespaces).

hbt-model-peer-XXXX holds `peer0` with no IP address (the model owns 192.0.2.2 and
02:00:00:00:01:02); hbt-model-dut-XXXX holds `eth0` 192.0.2.10/24, whose kernel TCP
stands in for the Linux host DUT. Built with bench.lab.netns / bench.lab.links.
"""

from __future__ import annotations

import secrets
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.lab import links, netns

PEER_IP = "192.0.2.2"
PEER_MAC = "02:00:00:00:01:02"
DUT_IP = "192.0.2.10"


@dataclass(frozen=True)
class Topology:
    peer_ns: str
    dut_ns: str
    peer_if: str = "peer0"
    dut_if: str = "eth0"
    peer_ip: str = PEER_IP
    peer_mac: str = PEER_MAC
    dut_ip: str = DUT_IP

    def dut_socket(self, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A kernel socket living in the DUT's namespace."""
        return netns.socket_in(self.dut_ns, socket.AF_INET, kind)

    def dut_sysctl(self, name: str, value: str) -> None:
        netns.sysctl_in(self.dut_ns, name, value)


@contextmanager
def topology(tag: str | None = None) -> Iterator[Topology]:
    """Build the two namespaces and the veth; always removes both afterwards."""
    tag = tag or secrets.token_hex(2)
    topo = Topology(f"hbt-model-peer-{tag}", f"hbt-model-dut-{tag}")
    try:
        for ns in (topo.peer_ns, topo.dut_ns):
            netns.create(ns)
            links.loopback_up(ns)
        links.veth(topo.peer_ns, topo.peer_if, topo.dut_ns, topo.dut_if)
        links.add_address(topo.dut_ns, topo.dut_if, f"{topo.dut_ip}/24")
        yield topo
    finally:
        for ns in (topo.peer_ns, topo.dut_ns):
            netns.remove(ns)


def tcp_state(sock: socket.socket) -> int:
    """tcpi_state from TCP_INFO (Linux numbering) of a kernel socket."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("B", info, 0)[0]


# --- sock_diag: the DUT kernel's view of its TCP sockets (TIME_WAIT included) ---
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_DONE = 3
_LINUX_CLOSE = 7


class DiagSocket:
    """inet_diag over a netlink socket created inside the DUT's namespace."""

    def __init__(self, ns: str) -> None:
        self.sock = netns.socket_in(ns, socket.AF_NETLINK, socket.SOCK_DGRAM,
                                    _NETLINK_SOCK_DIAG)
        self.sock.bind((0, 0))
        self._seq = 0

    def tcp_states(self) -> list[tuple[int, int, int]]:
        """(local port, remote port, Linux state number) of every IPv4 TCP socket."""
        self._seq += 1
        req = struct.pack("BBBxI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0xFFF) + b"\0" * 48
        msg = struct.pack("IHHII", 16 + len(req), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP,
                          self._seq, 0) + req
        self.sock.send(msg)
        out: list[tuple[int, int, int]] = []
        while True:
            data = self.sock.recv(1 << 16)
            pos = 0
            while pos + 16 <= len(data):
                length, kind, _flags, _seq, _pid = struct.unpack_from("IHHII", data, pos)
                if kind == _NLMSG_DONE:
                    return out
                if kind == _SOCK_DIAG_BY_FAMILY:
                    state = data[pos + 17]
                    sport, dport = struct.unpack_from("!HH", data, pos + 20)
                    out.append((sport, dport, state))
                pos += (length + 3) & ~3

    def close(self) -> None:
        self.sock.close()


class StatePoller:
    """Polls the DUT's socket states (sock_diag) on a thread and keeps each change,
    per (local port, remote port): the kernel's own account to compare the oracle with."""

    def __init__(self, ns: str, interval_s: float = 0.0005) -> None:
        import threading

        self._diag = DiagSocket(ns)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.changes: dict[tuple[int, int], list[int]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            present = set()
            for sport, dport, state in self._diag.tcp_states():
                present.add((sport, dport))
                seen = self.changes.setdefault((sport, dport), [])
                if not seen or seen[-1] != state:
                    seen.append(state)
            for key, seen in self.changes.items():
                if key not in present and seen[-1] != _LINUX_CLOSE:
                    seen.append(_LINUX_CLOSE)  # gone from the kernel's tables: CLOSED
            time.sleep(self._interval_s)

    def states(self, dut_port: int, peer_port: int) -> list[int]:
        return list(self.changes.get((dut_port, peer_port), []))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._diag.close()


def is_subsequence(small: list, big: list) -> bool:
    """True when `small` appears in `big` in order (gaps allowed)."""
    it = iter(big)
    return all(any(x == y for y in it) for x in small)
