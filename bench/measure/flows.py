"""Small helpers for measurements that open a connection from the peer to a DUT
listener and watch what the DUT sends on it (MSS, robustness, reset)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench.measure.handshake import from_dut
from bench.model import Connection, Peer, Segment
from firmware_adapters.dut import Dut

PATTERN_MOD = 251  # docs/console-protocol.md: byte[k] = k mod 251


def stream_pattern(offset: int, length: int) -> bytes:
    """The protocol's stream bytes from `offset` (what a `check` receiver expects)."""
    return bytes((offset + i) % PATTERN_MOD for i in range(length))


@contextmanager
def listening(dut: Dut, port: int, mode: str) -> Iterator[int]:
    """A DUT listener for one experiment: yields its lid, always unlistens."""
    lid = dut.listen(port, mode=mode)
    try:
        yield lid
    finally:
        dut.unlisten(lid)


def accept_id(dut: Dut, peer: Peer, conn: Connection) -> tuple[int, str]:
    """The DUT's id of the connection the peer just opened, and the console line."""
    event = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{conn.local[1]}")
    return int(event.fields["id"]), event.raw


def on_conn(peer: Peer, since: int, dut_ip: str, conn: Connection,
            keep: Callable[[Segment], bool] = lambda s: True) -> list[Segment]:
    """Segments the DUT sent on `conn` since log position `since` that `keep` accepts."""
    lport, rport = conn.local[1], conn.remote[1]
    return from_dut(peer, since, dut_ip,
                    lambda s: s.dport == lport and s.sport == rport and keep(s))


def data_from_dut(peer: Peer, since: int, dut_ip: str, conn: Connection) -> list[Segment]:
    """Segments with payload the DUT sent on `conn` since log position `since`."""
    return on_conn(peer, since, dut_ip, conn, lambda s: bool(s.payload))


def seq_after(a: int, b: int) -> bool:
    """a > b in sequence space (modulo 2**32)."""
    return 0 < (a - b) & 0xFFFFFFFF < 0x80000000


def wait_for(found: Callable[[], list[Segment]], timeout_s: float,
             poll_s: float = 0.01) -> list[Segment]:
    """Poll `found` until it returns something or `timeout_s` passes (bounds a wait)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = found()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(poll_s)
