"""Every TCP socket of the namespace, from the kernel's socket diagnostics (inet_diag)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pyroute2 import DiagSocket
from pyroute2.netlink.diag import SS_ALL

from .tcpinfo import state_name

Endpoint = tuple[str, int]


@dataclass(frozen=True)
class KernelConn:
    """One TCP socket as the kernel lists it."""

    state: str
    local: Endpoint
    remote: Endpoint
    timer: int
    expires_ms: int
    rqueue: int
    wqueue: int


def list_tcp_sockets() -> list[KernelConn]:
    """All IPv4 TCP sockets in every state, listeners, request and TIME_WAIT ones included."""
    with DiagSocket() as diag:
        diag.bind()
        msgs = diag.get_sock_stats(family=socket.AF_INET, states=SS_ALL)
    out = [
        KernelConn(
            state=state_name(msg["idiag_state"]),
            local=(msg["idiag_src"], msg["idiag_sport"]),
            remote=(msg["idiag_dst"], msg["idiag_dport"]),
            timer=msg["idiag_timer"],
            expires_ms=msg["idiag_expires"],
            rqueue=msg["idiag_rqueue"],
            wqueue=msg["idiag_wqueue"],
        )
        for msg in msgs
    ]
    out.sort(key=lambda c: (c.state != "LISTEN", c.local[1], c.remote))
    return out


def format_endpoint(ep: Endpoint) -> str:
    """`a.b.c.d:port`."""
    return f"{ep[0]}:{ep[1]}"
