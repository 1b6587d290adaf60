"""TCP options: parse any option list (tolerating garbage) and build the usual ones.

Kinds: 0 EOL, 1 NOP, 2 MSS, 3 window scale, 4 SACK-permitted, 5 SACK, 8 timestamps
(RFC 9293, 7323, 2018). Unknown kinds are kept as (kind, bytes)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

EOL, NOP, MSS, WSCALE, SACK_PERM, SACK, TIMESTAMP = 0, 1, 2, 3, 4, 5, 8
NAMES = {EOL: "eol", NOP: "nop", MSS: "mss", WSCALE: "wscale", SACK_PERM: "sack_perm",
         SACK: "sack", TIMESTAMP: "ts"}
_TS_FAST = b"\x01\x01\x08\x0a"


@dataclass(frozen=True, slots=True)
class TcpOptions:
    """A parsed option list. `kinds` keeps the order seen (NOPs included)."""

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None  # (TSval, TSecr)
    others: tuple[tuple[int, bytes], ...] = ()
    kinds: tuple[int, ...] = ()
    malformed: bool = False

    def names(self) -> tuple[str, ...]:
        """Option names present, without padding (for traces and patterns)."""
        return tuple(NAMES.get(k, f"opt{k}") for k in self.kinds if k not in (EOL, NOP))


EMPTY = TcpOptions()


def parse(raw: bytes) -> TcpOptions:
    """Parse an option list; bad lengths set `malformed` instead of raising."""
    if not raw:
        return EMPTY
    if len(raw) == 12 and raw[:4] == _TS_FAST:
        tsval, tsecr = struct.unpack_from("!II", raw, 4)
        return TcpOptions(timestamp=(tsval, tsecr), kinds=(NOP, NOP, TIMESTAMP))
    mss = wscale = None
    sack_perm = False
    blocks: tuple[tuple[int, int], ...] = ()
    ts = None
    others: list[tuple[int, bytes]] = []
    kinds: list[int] = []
    malformed = False
    pos = 0
    while pos < len(raw):
        kind = raw[pos]
        if kind == EOL:
            kinds.append(EOL)
            break
        if kind == NOP:
            kinds.append(NOP)
            pos += 1
            continue
        if pos + 1 >= len(raw) or raw[pos + 1] < 2 or pos + raw[pos + 1] > len(raw):
            malformed = True
            break
        length = raw[pos + 1]
        body = raw[pos + 2:pos + length]
        kinds.append(kind)
        if kind == MSS and length == 4:
            mss = struct.unpack("!H", body)[0]
        elif kind == WSCALE and length == 3:
            wscale = body[0]
        elif kind == SACK_PERM and length == 2:
            sack_perm = True
        elif kind == SACK and (length - 2) % 8 == 0:
            blocks = tuple(struct.unpack_from("!II", body, i) for i in range(0, length - 2, 8))
        elif kind == TIMESTAMP and length == 10:
            ts = struct.unpack("!II", body)
        else:
            if kind in (MSS, WSCALE, SACK_PERM, SACK, TIMESTAMP):
                malformed = True
            others.append((kind, bytes(body)))
        pos += length
    return TcpOptions(mss, wscale, sack_perm, blocks, ts, tuple(others), tuple(kinds), malformed)


def timestamp_only(raw: bytes) -> tuple[int, int] | None:
    """TSval/TSecr when `raw` is the common NOP NOP TS layout (the hot path)."""
    if len(raw) == 12 and raw[:4] == _TS_FAST:
        return struct.unpack_from("!II", raw, 4)  # type: ignore[return-value]
    return parse(raw).timestamp if raw else None


def build(
    mss: int | None = None,
    sack_permitted: bool = False,
    timestamp: tuple[int, int] | None = None,
    wscale: int | None = None,
    sack_blocks: tuple[tuple[int, int], ...] | list[tuple[int, int]] = (),
    extra: bytes = b"",
) -> bytes:
    """Options in Linux's layout, padded to a multiple of 4 bytes with NOPs/EOL."""
    out = bytearray()
    if mss is not None:
        out += struct.pack("!BBH", MSS, 4, mss)
    if timestamp is not None:
        if sack_permitted:
            out += bytes((SACK_PERM, 2))
        else:
            out += bytes((NOP, NOP))
        out += struct.pack("!BBII", TIMESTAMP, 10, timestamp[0] & 0xFFFFFFFF,
                           timestamp[1] & 0xFFFFFFFF)
    elif sack_permitted:
        out += bytes((NOP, NOP, SACK_PERM, 2))
    if wscale is not None:
        out += bytes((NOP, WSCALE, 3, wscale))
    if sack_blocks:
        out += bytes((NOP, NOP, SACK, 2 + 8 * len(sack_blocks)))
        for left, right in sack_blocks:
            out += struct.pack("!II", left & 0xFFFFFFFF, right & 0xFFFFFFFF)
    out += extra
    out += b"\0" * (-len(out) % 4)
    if len(out) > 40:
        raise ValueError(f"options take {len(out)} bytes, more than TCP's 40")
    return bytes(out)


def timestamp_bytes(tsval: int, tsecr: int) -> bytes:
    """NOP NOP TS, the option every segment carries once timestamps are negotiated."""
    return _TS_FAST + struct.pack("!II", tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF)
