"""The reference TCP model: an executable RFC 9293 peer over bench.wire, and the
capture oracle (bench.model.oracle)."""

from bench.model.config import ConnOptions
from bench.model.connection import Connection, ConnInfo
from bench.model.pattern import SegmentPattern, Tolerance
from bench.model.peer import ExpectError, Match, Peer
from bench.model.rules import DropRule
from bench.model.segment import Segment
from bench.model.states import State
from bench.model.tcb import TcpError

__all__ = [
    "ConnInfo", "ConnOptions", "Connection", "DropRule", "ExpectError", "Match", "Peer",
    "Segment", "SegmentPattern", "State", "TcpError", "Tolerance",
]
