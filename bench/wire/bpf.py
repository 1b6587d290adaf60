"""Classic BPF filters for the lab's packet sockets (SO_ATTACH_FILTER).

The kernel runs the filter before a frame is queued to the socket, so Python never
sees the traffic it does not care about (IPv6 chatter, other hosts' flows).
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wire.sockopt import ETH_P_ARP, ETH_P_IP, SO_ATTACH_FILTER

# opcodes (linux/filter.h)
_LD_H_ABS = 0x28
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_AND_K = 0x54
_RET_K = 0x06

_ACCEPT_BYTES = 0x40000
_INSN = struct.Struct("HBBI")


@dataclass(frozen=True)
class Insn:
    code: int
    jt: int
    jf: int
    k: int


def ipv4_filter(
    dst_networks: Sequence[str], accept_arp: bool = True, match_src: bool = False,
    src_networks: Sequence[str] = (),
) -> list[Insn]:
    """Accept ARP (optionally) and IPv4 frames whose destination lies in `dst_networks`.

    `dst_networks` are CIDR strings ("192.0.2.2/32", "198.51.100.0/24"): the addresses
    the peer owns, including the spoofed ranges it injects from. With `match_src` a
    frame also passes when its source lies in one of the networks. With `src_networks`
    an IPv4 frame must also come from one of them: a peer serving one DUT never sees
    (nor answers) another DUT's traffic on a shared segment."""
    nets = [ipaddress.IPv4Network(n, strict=False) for n in dst_networks]
    sources = [ipaddress.IPv4Network(n, strict=False) for n in src_networks]
    # Layout: [ldh type][arp?][jeq ip][per net: ld dst, and mask, jeq net][drop]
    #         [per source: ld src, and mask, jeq source][drop] [accept][drop]
    matched = "sources" if sources else "accept"
    body: list[tuple[int, int | str, int | str, int]] = [(_LD_H_ABS, 0, 0, 12)]
    if accept_arp:
        body.append((_JEQ_K, "accept", 0, ETH_P_ARP))
    body.append((_JEQ_K, 0, "drop", ETH_P_IP))
    offsets = (30, 26) if match_src else (30,)
    for offset in offsets:
        for net in nets:
            body.append((_LD_W_ABS, 0, 0, offset))
            body.append((_AND_K, 0, 0, int(net.netmask)))
            body.append((_JEQ_K, matched, 0, int(net.network_address)))
    body.append((_JEQ_K, "drop", "drop", 0))  # fall through to drop
    sources_at = len(body)
    for source in sources:
        body.append((_LD_W_ABS, 0, 0, 26))
        body.append((_AND_K, 0, 0, int(source.netmask)))
        body.append((_JEQ_K, "accept", 0, int(source.network_address)))
    if sources:
        body.append((_JEQ_K, "drop", "drop", 0))
    accept_at = len(body)
    drop_at = accept_at + 1
    program: list[Insn] = []
    for index, (code, jt, jf, k) in enumerate(body):
        program.append(
            Insn(code, _resolve(jt, index, accept_at, drop_at, sources_at),
                 _resolve(jf, index, accept_at, drop_at, sources_at), k)
        )
    program.append(Insn(_RET_K, 0, 0, _ACCEPT_BYTES))
    program.append(Insn(_RET_K, 0, 0, 0))
    return program


def _resolve(target: int | str, index: int, accept_at: int, drop_at: int,
             sources_at: int = 0) -> int:
    if target == "sources":
        return sources_at - index - 1
    if target == "accept":
        return accept_at - index - 1
    if target == "drop":
        return drop_at - index - 1
    return int(target)


def ipv4_both_filter(networks: Sequence[str]) -> list[Insn]:
    """IPv4 frames from or to `networks` (a passive capture of the flows under test)."""
    return ipv4_filter(networks, accept_arp=False, match_src=True)


def drop_all() -> list[Insn]:
    """A filter that accepts nothing (installed before bind so no frame slips through)."""
    return [Insn(_RET_K, 0, 0, 0)]


def attach(sock: socket.socket, program: Sequence[Insn]) -> None:
    """Attach `program` to `sock`; replaces any filter already attached."""
    raw = b"".join(_INSN.pack(i.code, i.jt, i.jf, i.k) for i in program)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def matches(program: Sequence[Insn], frame: bytes) -> bool:
    """Run `program` on `frame` in Python (for unit tests of the filter builder)."""
    pc = 0
    acc = 0
    while True:
        insn = program[pc]
        if insn.code == _RET_K:
            return insn.k != 0
        if insn.code == _LD_H_ABS:
            if insn.k + 2 > len(frame):
                return False
            acc = struct.unpack_from("!H", frame, insn.k)[0]
        elif insn.code == _LD_W_ABS:
            if insn.k + 4 > len(frame):
                return False
            acc = struct.unpack_from("!I", frame, insn.k)[0]
        elif insn.code == _AND_K:
            acc &= insn.k
        elif insn.code == _JEQ_K:
            pc += insn.jt if acc == insn.k else insn.jf
        else:
            raise ValueError(f"opcode {insn.code:#x} not supported")
        pc += 1
