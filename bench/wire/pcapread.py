"""Read pcap and pcapng files back into (frame number, ns timestamp, direction, bytes).

Only the oracle reads captures (DESIGN: nothing else parses pcaps); this module only
undoes the file format. Classic pcap (usec and nsec magic) and pcapng (SHB, IDB with
if_tsresol, EPB, SPB) in either byte order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.wire.pcapng import INBOUND, OUTBOUND

UNKNOWN = 0


@dataclass(frozen=True)
class Record:
    frame_no: int
    ts_ns: int
    direction: int  # pcapng.INBOUND, OUTBOUND or UNKNOWN (0)
    data: bytes
    linktype: int


def read(path: Path | str) -> Iterator[Record]:
    """Every frame in the file, in file order, numbered from 1."""
    raw = Path(path).read_bytes()
    if len(raw) < 4:
        return iter(())
    magic = raw[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        return _pcapng(raw)
    return _pcap(raw)


def _pcap(raw: bytes) -> Iterator[Record]:
    magic_le = struct.unpack_from("<I", raw, 0)[0]
    table = {0xA1B2C3D4: ("<", 1000), 0xA1B23C4D: ("<", 1)}
    swapped = {0xD4C3B2A1: (">", 1000), 0x4D3CB2A1: (">", 1)}
    if magic_le in table:
        endian, scale = table[magic_le]
    elif magic_le in swapped:
        endian, scale = swapped[magic_le]
    else:
        raise ValueError("not a pcap or pcapng file")
    linktype = struct.unpack_from(endian + "I", raw, 20)[0] & 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    pos = 24
    number = 0
    while pos + 16 <= len(raw):
        sec, frac, caplen, _ = rec.unpack_from(raw, pos)
        pos += 16
        number += 1
        yield Record(number, sec * 1_000_000_000 + frac * scale, UNKNOWN,
                     raw[pos:pos + caplen], linktype)
        pos += caplen


def _pcapng(raw: bytes) -> Iterator[Record]:
    pos = 0
    endian = "<"
    interfaces: list[tuple[int, int]] = []  # (linktype, ticks per second)
    number = 0
    while pos + 12 <= len(raw):
        kind = struct.unpack_from(endian + "I", raw, pos)[0]
        if kind == 0x0A0D0D0A:
            bom = raw[pos + 8:pos + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        total = struct.unpack_from(endian + "I", raw, pos + 4)[0]
        if total < 12:
            raise ValueError(f"corrupt pcapng block at offset {pos}")
        body = raw[pos + 8:pos + total - 4]
        if kind == 1:
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            interfaces.append((linktype, _tsresol(body[8:], endian)))
        elif kind == 6:
            if_id, ts_hi, ts_lo, caplen, _ = struct.unpack_from(endian + "IIIII", body, 0)
            linktype, per_s = interfaces[if_id]
            ticks = (ts_hi << 32) | ts_lo
            ts_ns = ticks * 1_000_000_000 // per_s
            data = body[20:20 + caplen]
            opts = body[20 + caplen + (-caplen % 4):]
            number += 1
            yield Record(number, ts_ns, _epb_direction(opts, endian), data, linktype)
        elif kind == 3:
            linktype, _ = interfaces[0]
            orig = struct.unpack_from(endian + "I", body, 0)[0]
            number += 1
            yield Record(number, 0, UNKNOWN, body[4:4 + orig], linktype)
        pos += total


def _options(opts: bytes, endian: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(opts):
        code, length = struct.unpack_from(endian + "HH", opts, pos)
        if code == 0:
            return
        yield code, opts[pos + 4:pos + 4 + length]
        pos += 4 + length + (-length % 4)


def _tsresol(opts: bytes, endian: str) -> int:
    for code, value in _options(opts, endian):
        if code == 9 and value:
            res = value[0]
            return 2 ** (res & 0x7F) if res & 0x80 else 10 ** res
    return 1_000_000


def _epb_direction(opts: bytes, endian: str) -> int:
    for code, value in _options(opts, endian):
        if code == 2 and len(value) >= 4:
            flags = struct.unpack_from(endian + "I", value, 0)[0] & 0x3
            return {1: INBOUND, 2: OUTBOUND}.get(flags, UNKNOWN)
    return UNKNOWN
