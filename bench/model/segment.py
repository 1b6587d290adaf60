"""TCP/IPv4 segments as the model sees them, and their Ethernet frames.

This is the hot path (frame in, decide, frame out), so it is plain struct work: no
scapy. `parse_frame` verifies the TCP checksum; `build_frame` can spoil it, or the data
offset, on purpose for robustness tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from bench.model import options as opt
from bench.model.checksum import finish, ones_sum_mod

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
_LETTERS = ((FIN, "F"), (SYN, "S"), (RST, "R"), (PSH, "P"), (ACK, "A"), (URG, "U"),
            (ECE, "E"), (CWR, "C"))
_BY_LETTER = {letter: bit for bit, letter in _LETTERS}

_ETH_IP = b"\x08\x00"
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIHHHH")


def flags_str(flags: int) -> str:
    """'SA', 'FA', 'PA', 'R' ...: letters in a fixed order (F S R P A U E C)."""
    return "".join(letter for bit, letter in _LETTERS if flags & bit) or "."


def flags_from(text: str) -> int:
    """Flag bits from letters ('SA', 'FA'; '.' or '' means none), order-insensitive."""
    bits = 0
    for letter in text.upper():
        if letter == ".":
            continue
        bits |= _BY_LETTER[letter]
    return bits


@dataclass(slots=True)
class Segment:
    """One TCP segment; seq/ack are 32-bit wire values, window the raw header field."""

    src_ip: bytes
    dst_ip: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    options_raw: bytes = b""
    payload: bytes = b""
    ts_ns: int = 0
    frame_no: int = 0
    direction: str = "in"
    checksum_ok: bool = True
    data_offset: int = 0  # header length in bytes as sent/received (0: derived)
    ip_id: int = 0
    ttl: int = 64
    src_mac: bytes = b""
    df: bool = False  # the IP header's Don't Fragment bit
    _options: opt.TcpOptions | None = field(default=None, repr=False)

    @property
    def options(self) -> opt.TcpOptions:
        if self._options is None:
            self._options = opt.parse(self.options_raw)
        return self._options

    @property
    def seg_len(self) -> int:
        """Sequence space taken: payload plus one each for SYN and FIN."""
        return len(self.payload) + (self.flags & SYN) // SYN + (self.flags & FIN)

    @property
    def flags_str(self) -> str:
        return flags_str(self.flags)

    def __str__(self) -> str:
        return (f"{_ip(self.src_ip)}:{self.sport} > {_ip(self.dst_ip)}:{self.dport} "
                f"[{self.flags_str}] seq={self.seq} ack={self.ack} win={self.window} "
                f"len={len(self.payload)} opts={','.join(self.options.names())}")


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def parse_frame(frame: bytes, ts_ns: int = 0, frame_no: int = 0,
                direction: str = "in") -> Segment | None:
    """The TCP segment in an Ethernet/IPv4 frame, or None when it carries no TCP.

    A data offset below 5 or beyond the segment yields a Segment with no options or
    payload and checksum_ok=False, so callers drop it like a bad checksum."""
    if len(frame) < 54 or frame[12:14] != _ETH_IP:
        return None
    vihl = frame[14]
    if vihl >> 4 != 4 or frame[23] != 6:
        return None
    if struct.unpack_from("!H", frame, 20)[0] & 0x1FFF:
        return None  # a non-first fragment
    ihl = (vihl & 0x0F) * 4
    total = struct.unpack_from("!H", frame, 16)[0]
    end = min(14 + total, len(frame))
    tcp = 14 + ihl
    if tcp + 20 > end:
        return None
    sport, dport, seq, ack, offflags, window, _csum, _urg = _TCP.unpack_from(frame, tcp)
    doff = (offflags >> 12) * 4
    src, dst = frame[26:30], frame[30:34]
    seg = Segment(src, dst, sport, dport, seq, ack, offflags & 0xFF, window,
                  ts_ns=ts_ns, frame_no=frame_no, direction=direction, data_offset=doff,
                  ip_id=struct.unpack_from("!H", frame, 18)[0], ttl=frame[22],
                  src_mac=frame[6:12], df=bool(frame[20] & 0x40))
    if doff < 20 or tcp + doff > end:
        seg.checksum_ok = False
        return seg
    seg.options_raw = frame[tcp + 20:tcp + doff]
    seg.payload = frame[tcp + doff:end]
    length = end - tcp
    total_sum = (int.from_bytes(frame[26:34], "big") + 6 + length
                 + ones_sum_mod(memoryview(frame)[tcp:end]))
    seg.checksum_ok = total_sum % 0xFFFF == 0
    return seg


def build_frame(
    seg: Segment,
    src_mac: bytes,
    dst_mac: bytes,
    bad_checksum: bool = False,
    data_offset_words: int | None = None,
    df: bool = True,
) -> bytes:
    """An Ethernet frame for `seg` with correct IP and TCP checksums (unless told not)."""
    opts = seg.options_raw
    if len(opts) % 4:
        opts = opts + b"\0" * (-len(opts) % 4)
    payload = seg.payload
    doff = data_offset_words if data_offset_words is not None else (20 + len(opts)) // 4
    tcp_len = 20 + len(opts) + len(payload)
    header = _TCP.pack(seg.sport, seg.dport, seg.seq & 0xFFFFFFFF, seg.ack & 0xFFFFFFFF,
                       ((doff & 0xF) << 12) | seg.flags, seg.window & 0xFFFF, 0, 0) + opts
    total = (int.from_bytes(seg.src_ip + seg.dst_ip, "big") + 6 + tcp_len
             + int.from_bytes(header, "big") + ones_sum_mod(payload))
    csum = finish(total)
    if bad_checksum:
        csum ^= 0x0001
    header = header[:16] + struct.pack("!H", csum) + header[18:]
    ip = _IP.pack(0x45, 0, 20 + tcp_len, seg.ip_id & 0xFFFF, 0x4000 if df else 0, seg.ttl,
                  6, 0, seg.src_ip, seg.dst_ip)
    ip_csum = finish(ones_sum_mod(ip))
    ip = ip[:10] + struct.pack("!H", ip_csum) + ip[12:]
    return b"".join((dst_mac, src_mac, _ETH_IP, ip, header, payload))
