"""The eleven TCP states of RFC 9293 (section 3.3.2), with Linux's numbering for
comparing against TCP_INFO / sock_diag."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"


SYNCHRONIZED = frozenset({
    State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT,
    State.CLOSING, State.LAST_ACK, State.TIME_WAIT,
})

# include/net/tcp_states.h
LINUX_STATES = {
    1: State.ESTABLISHED, 2: State.SYN_SENT, 3: State.SYN_RECEIVED, 4: State.FIN_WAIT_1,
    5: State.FIN_WAIT_2, 6: State.TIME_WAIT, 7: State.CLOSED, 8: State.CLOSE_WAIT,
    9: State.LAST_ACK, 10: State.LISTEN, 11: State.CLOSING, 12: State.SYN_RECEIVED,
}


def from_linux(number: int) -> State:
    """The RFC state for a Linux tcpi_state / inet_diag state number."""
    return LINUX_STATES[number]
