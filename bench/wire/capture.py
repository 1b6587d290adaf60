"""A passive, independent capture on one interface: both directions, kernel RX/outgoing
timestamps. Used to check the peer's own timestamps (from the DUT's side of the link)
and to time a peer that does not use `Link` (the scapy baseline)."""

from __future__ import annotations

import select
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from bench.lab import netns
from bench.wire import bpf, sockopt
from bench.wire.link import ifindex


@dataclass(frozen=True, slots=True)
class Captured:
    data: bytes
    ts_ns: int
    outgoing: bool  # sent by this interface's host (PACKET_OUTGOING)


class Capture:
    """AF_PACKET socket on `ifname` in `ns` that sees frames in both directions."""

    def __init__(self, ns: str, ifname: str, networks: Sequence[str] | None = None,
                 promiscuous: bool = True) -> None:
        sock = netns.socket_in(ns, socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            bpf.attach(sock, bpf.drop_all())
            sockopt.set_buffers(sock, 32 << 20, 1 << 20)
            sockopt.enable_timestamps(sock, sockopt.RX_FLAGS)
            sock.bind((ifname, sockopt.ETH_P_ALL))
            if promiscuous:
                sockopt.set_promiscuous(sock, ifindex(sock, ifname))
            sock.setblocking(False)
            while True:
                try:
                    sock.recv(65536)
                except BlockingIOError:
                    break
            if networks is not None:
                bpf.attach(sock, bpf.ipv4_both_filter(networks))
            else:
                sock.setsockopt(socket.SOL_SOCKET, 27, 0)  # SO_DETACH_FILTER
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, timeout_s: float = 0.0, max_frames: int = 4096) -> list[Captured]:
        """Frames captured so far; waits up to `timeout_s` for the first one."""
        out: list[Captured] = []
        if timeout_s > 0:
            select.select([self.sock], [], [], timeout_s)
        for _ in range(max_frames):
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65536, 256)
            except BlockingIOError:
                break
            out.append(Captured(data, sockopt.timestamp_ns(anc),
                                addr[2] == sockopt.PACKET_OUTGOING))
        return out

    def close(self) -> None:
        self.sock.close()
