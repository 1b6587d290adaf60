"""Is the DUT still alive? ICMP echo from the bench namespace, once a period, on a thread.

Why ICMP and not the console: during a measurement the console belongs to the test (one
reader per serial line), and a timer-bound experiment may not touch it for a minute. An
echo reply needs the DUT's CPU and network driver to run, so a frozen board (a hung
firmware, a stopped QEMU) stops answering within one period, without disturbing the
test's flows: the bench kernel's address sends the probes, not the reference peer.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass

from bench.inventory import Inventory
from bench.lab import netns
from bench.model.checksum import internet_checksum

ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


def echo_request(ident: int, seq: int, payload: bytes = b"hilbench watchdog") -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, internet_checksum(header + payload), ident,
                       seq) + payload


def is_reply(packet: bytes, source: str, address: str, ident: int, seq: int) -> bool:
    """A raw IPv4 socket returns the IP header too: skip it, then match the echo."""
    if source != address or len(packet) < 20:
        return False
    header_len = (packet[0] & 0x0F) * 4
    icmp = packet[header_len:header_len + 8]
    if len(icmp) < 8:
        return False
    kind, _, _, their_ident, their_seq = struct.unpack("!BBHHH", icmp)
    return kind == ICMP_ECHO_REPLY and their_ident == ident and their_seq == seq


@dataclass
class Liveness:
    """The watchdog's view: consecutive unanswered probes and the last answer."""

    probes: int = 0
    misses: int = 0
    last_reply_s: float | None = None  # time.monotonic()


class DutWatchdog:
    """Pings `address` from namespace `netns_name` every `period_s`; after `misses`
    unanswered probes in a row `hung` is set and `reason` says what was seen.

    `with DutWatchdog(...) as dog:` starts and stops the thread.
    """

    def __init__(self, netns_name: str, dut: str, address: str, period_s: float = 1.0,
                 misses: int = 5) -> None:
        self.netns_name = netns_name
        self.dut = dut
        self.address = address
        self.period_s = period_s
        self.max_misses = misses
        self.hung = threading.Event()
        self.reason = ""
        self.state = Liveness()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ident = os.getpid() & 0xFFFF

    @classmethod
    def for_dut(cls, inv: Inventory, name: str, period_s: float = 1.0,
                misses: int = 5) -> DutWatchdog:
        """The watchdog of an inventory DUT, probing from the lab's bench namespace."""
        address = str(inv.dut(name).link.address.ip)
        return cls(f"{inv.lab.prefix}bench", name, address, period_s, misses)

    def __enter__(self) -> DutWatchdog:
        self._thread = threading.Thread(target=self._run, name=f"watchdog {self.dut}",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.period_s * 2 + 1)

    def probe(self, sock: socket.socket, seq: int) -> bool:
        """One echo request; True when its reply arrives within the period."""
        sock.sendto(echo_request(self._ident, seq), (self.address, 0))
        deadline = time.monotonic() + self.period_s
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                packet, (source, _) = sock.recvfrom(2048)
            except TimeoutError:
                return False
            if is_reply(packet, source, self.address, self._ident, seq):
                return True
        return False

    def _run(self) -> None:
        sock = netns.socket_in(self.netns_name, socket.AF_INET, socket.SOCK_RAW,
                               socket.IPPROTO_ICMP)
        try:
            seq = 0
            while not self._stop.is_set():
                seq = (seq + 1) & 0xFFFF
                started = time.monotonic()
                try:
                    answered = self.probe(sock, seq)
                except OSError:
                    answered = False
                self.state.probes += 1
                if answered:
                    self.state.misses = 0
                    self.state.last_reply_s = time.monotonic()
                else:
                    self.state.misses += 1
                    if self.state.misses >= self.max_misses and not self.hung.is_set():
                        self.reason = (
                            f"DUT {self.dut} stopped answering: no ICMP echo reply from "
                            f"{self.address} to {self.state.misses} probes in a row "
                            f"({self.state.misses * self.period_s:.0f} s)")
                        self.hung.set()
                self._stop.wait(max(0.0, self.period_s - (time.monotonic() - started)))
        finally:
            sock.close()
