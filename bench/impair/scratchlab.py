"""A three-namespace scratch lab for the bridge's own tests and benchmark.

    hbt-imp-a  eth0 192.0.2.1  ─veth─ br-a [hbt-imp-br: bridge process] br-b ─veth─
    hbt-imp-b  eth0 192.0.2.10
    and a direct veth for comparison: hbt-imp-a eth1 198.51.100.1 ─ hbt-imp-b eth1
    198.51.100.10

Built only from bench.lab's helpers; fixed MACs and permanent neighbour entries, and
IPv6 off, so the only frames on the wire are the ones a test sends.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute

from bench.impair import control
from bench.lab import links, netns

PREFIX = "hbt-imp-"
NUD_PERMANENT = 0x80


@dataclass(frozen=True)
class ScratchLab:
    ns_a: str = "hbt-imp-a"
    ns_br: str = "hbt-imp-br"
    ns_b: str = "hbt-imp-b"
    ip_a: str = "192.0.2.1"
    ip_b: str = "192.0.2.10"
    mac_a: str = "02:00:00:00:0a:01"
    mac_b: str = "02:00:00:00:0b:0a"
    direct_ip_a: str = "198.51.100.1"
    direct_ip_b: str = "198.51.100.10"
    direct_mac_a: str = "02:00:00:00:1a:01"
    direct_mac_b: str = "02:00:00:00:1b:0a"

    @property
    def namespaces(self) -> tuple[str, str, str]:
        return (self.ns_a, self.ns_br, self.ns_b)


def named(prefix: str) -> ScratchLab:
    """The same lab under other namespace names (the benchmark's own, so it never
    collides with a lab test building the default one)."""
    return ScratchLab(ns_a=f"{prefix}a", ns_br=f"{prefix}br", ns_b=f"{prefix}b")


def _ipv6_off(ns: str) -> None:
    for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
        with contextlib.suppress(OSError):  # a kernel without IPv6 has neither
            netns.sysctl_in(ns, key, "1")


def _neighbour(ns: str, ifname: str, ip: str, mac: str) -> None:
    with IPRoute(netns=ns) as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=index, state=NUD_PERMANENT)


def build(lab: ScratchLab = ScratchLab(), keep_flow_order: bool = True) -> ScratchLab:
    """Create the namespaces and links (tear down anything left from a crashed run).
    `keep_flow_order`: steer each flow to one CPU, as the lab does (docs/architecture.md);
    a benchmark whose senders are pinned needs no steering and measures without it."""
    teardown(lab)
    for ns in lab.namespaces:
        netns.create(ns)
        _ipv6_off(ns)
        links.loopback_up(ns)
    links.veth(lab.ns_a, "eth0", lab.ns_br, "br-a")
    links.veth(lab.ns_br, "br-b", lab.ns_b, "eth0")
    links.veth(lab.ns_a, "eth1", lab.ns_b, "eth1")
    if keep_flow_order:  # every end here faces a process that sends
        for ns, ifname in ((lab.ns_br, "br-a"), (lab.ns_br, "br-b"), (lab.ns_a, "eth0"),
                           (lab.ns_b, "eth0"), (lab.ns_a, "eth1"), (lab.ns_b, "eth1")):
            links.keep_flow_order(ns, ifname)
    for ns, ifname, mac in ((lab.ns_a, "eth0", lab.mac_a), (lab.ns_b, "eth0", lab.mac_b),
                            (lab.ns_a, "eth1", lab.direct_mac_a),
                            (lab.ns_b, "eth1", lab.direct_mac_b)):
        links.set_mac(ns, ifname, mac)
    links.add_address(lab.ns_a, "eth0", f"{lab.ip_a}/24")
    links.add_address(lab.ns_b, "eth0", f"{lab.ip_b}/24")
    links.add_address(lab.ns_a, "eth1", f"{lab.direct_ip_a}/24")
    links.add_address(lab.ns_b, "eth1", f"{lab.direct_ip_b}/24")
    _neighbour(lab.ns_a, "eth0", lab.ip_b, lab.mac_b)
    _neighbour(lab.ns_b, "eth0", lab.ip_a, lab.mac_a)
    _neighbour(lab.ns_a, "eth1", lab.direct_ip_b, lab.direct_mac_b)
    _neighbour(lab.ns_b, "eth1", lab.direct_ip_a, lab.direct_mac_a)
    return lab


def teardown(lab: ScratchLab = ScratchLab()) -> None:
    """Remove the namespaces (their interfaces go with them)."""
    for ns in lab.namespaces:
        netns.remove(ns)


class BridgeProcess:
    """The bridge running in the lab's middle namespace, stopped by its own PID."""

    def __init__(self, lab: ScratchLab, workdir: Path, rules: Path | None = None,
                 cpu: int | None = None, extra: list[str] | None = None):
        self.control_path = workdir / "impair.sock"
        self.log_path = workdir / "impair.jsonl"
        args = [sys.executable, "-m", "bench.impair.bridge", "--a", "br-a", "--b", "br-b",
                "--control", str(self.control_path), "--log", str(self.log_path)]
        if rules is not None:
            args += ["--rules", str(rules)]
        args += extra or []
        if cpu is not None:
            args = ["taskset", "-c", str(cpu), *args]
        self.stderr_path = workdir / "bridge.stderr"
        self._stderr = open(self.stderr_path, "w")
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = netns.popen_in(lab.ns_br, args, stderr=self._stderr, env=env, cwd=root)
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bridge exited: {self.stderr_path.read_text()}")
            with contextlib.suppress(control.ControlError, FileNotFoundError):
                if control.request(self.control_path, {"op": "ping"}, 1.0)["ok"]:
                    return
            time.sleep(0.05)
        raise RuntimeError("bridge did not answer ping")

    def request(self, message: dict) -> dict:
        return control.request(self.control_path, message)

    def stop(self) -> int:
        if self.proc.poll() is None:
            with contextlib.suppress(control.ControlError):
                self.request({"op": "stop"})
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode


def link_counters(ns: str, ifname: str) -> tuple[int, int]:
    """(rx_packets, tx_packets) of an interface, from the kernel's link statistics."""
    with IPRoute(netns=ns) as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=ifname)[0])[0]
        stats = link.get("IFLA_STATS64")
        return stats["rx_packets"], stats["tx_packets"]


SO_TIMESTAMPNS = 35


def timestamped_udp(ns: str, ip: str, port: int) -> socket.socket:
    """A bound UDP socket whose datagrams carry kernel receive timestamps."""
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((ip, port))
    return sock


def recv_timestamped(sock: socket.socket, size: int = 2048) -> tuple[bytes, int]:
    """One datagram and its kernel receive time in ns (CLOCK_REALTIME)."""
    data, ancillary, _flags, _addr = sock.recvmsg(size, 64)
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            return data, sec * 1_000_000_000 + nsec
    return data, time.time_ns()


def outgoing_sniffer(ns: str, ifname: str) -> socket.socket:
    """An AF_PACKET socket that sees `ifname`'s outgoing frames with kernel timestamps."""
    sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((ifname, 0x0003))
    return sock
