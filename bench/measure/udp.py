"""UDP (UD-01, UD-02, UD-03): the peer sends datagrams from its wire link
(bench.model.udp) to a DUT socket opened with the console's `udp bind`, and watches
what comes back (echoes, ICMP port unreachable) with kernel timestamps. What the DUT's
application received comes from `udp stat`."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from bench.measure.handshake import pcap_path
from bench.measure.result import Evidence, Measurement
from bench.model import Peer
from bench.model.icmp import DEST_UNREACH, PORT_UNREACH, IcmpListener, IcmpMessage
from bench.model.udp import UdpEndpoint
from firmware_adapters.dut import Dut
from firmware_adapters.errors import DutRejected

ECHO_SIZES = (1, 100, 512, 1000, 1472)  # 1472: the largest that fits a 1500-byte MTU


# ------------------------------------------------------------ console helpers
def udp_bind(dut: Dut, port: int, mode: str) -> None:
    """`udp bind <port> mode=<mode>`; a port bound earlier in the same mode is reused
    (the protocol has no unbind)."""
    try:
        dut.request("udp", "bind", port, mode=mode)  # type: ignore[attr-defined]
    except DutRejected as exc:
        if exc.code != "EBUSY" or udp_stat(dut, port).get("mode") != mode:
            raise


def udp_stat(dut: Dut, port: int) -> dict[str, str]:
    """`udp stat <port>`: rx_dgrams, rx_bytes, tx_dgrams, mode."""
    return dut.request("udp", "stat", port)[0]  # type: ignore[attr-defined,no-any-return]


def _count(stat: dict[str, str], key: str = "rx_dgrams") -> int:
    return int(stat.get(key, 0))


def _sport() -> int:
    return 40000 + secrets.randbelow(20000)


# --------------------------------------------------------------------- UD-01
def measure_udp_echo(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                     port: int = 7030, sizes: tuple[int, ...] = ECHO_SIZES,
                     wait_s: float = 1.0, settle_s: float = 0.3) -> Measurement:
    """One datagram of each size to a DUT echo socket, one at a time. value
    `udp_boundaries_kept`: every datagram came back as exactly one datagram with the
    same bytes, and no extra one came (within `settle_s` after the last)."""
    udp_bind(dut, port, "echo")
    before = udp_stat(dut, port)
    replies: list[list[Any]] = []
    frames: list[int] = []
    with UdpEndpoint(peer, _sport()) as ep:
        for size in sizes:
            payload = secrets.token_bytes(size)
            mark = ep.mark()
            sent = ep.sendto(payload, dut_ip, port)
            got = ep.wait(1, wait_s, since=mark)
            replies.append([size, [len(d.payload) for d in got],
                            bool(got) and got[0].payload == payload])
            frames += [sent.frame_no] + [d.frame_no for d in got]
        time.sleep(settle_s)
        total = len(ep.received())
    after = udp_stat(dut, port)
    kept = all(same and lens == [size] for size, lens, same in replies) \
        and total == len(sizes)
    details: dict[str, Any] = {
        "sizes": list(sizes),
        "replies": [{"size": s, "reply_sizes": lens, "same_bytes": same}
                    for s, lens, same in replies],
        "replies_total": total,
        "dut_rx_dgrams": _count(after) - _count(before),
        "dut_tx_dgrams": _count(after, "tx_dgrams") - _count(before, "tx_dgrams"),
        "port": port,
    }
    return Measurement(
        name="udp_boundaries_kept", dut=dut.name, value=kept, unit="bool",
        behaviours=["UD-01"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames,
                          console_lines=[f"udp stat {port}: {after}"]),
    )


# --------------------------------------------------------------------- UD-02
def measure_udp_bad_checksum(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                             port: int = 7031, size: int = 64,
                             wait_s: float = 0.5) -> Measurement:
    """A datagram with a spoiled UDP checksum to a DUT counting socket, then
    (control) an intact one. value `udp_bad_checksum_dropped`: the socket's count did
    not move for the spoiled one; related `udp_bad_checksum_delivered` (datagrams)."""
    udp_bind(dut, port, "count")
    with UdpEndpoint(peer, _sport()) as ep:
        before = udp_stat(dut, port)
        bad = ep.sendto(secrets.token_bytes(size), dut_ip, port, bad_checksum=True)
        time.sleep(wait_s)
        middle = udp_stat(dut, port)
        good = ep.sendto(secrets.token_bytes(size), dut_ip, port)
        time.sleep(wait_s)
        after = udp_stat(dut, port)
    delivered = _count(middle) - _count(before)
    details: dict[str, Any] = {
        "size": size,
        "delivered_bad": delivered,
        "control_delivered": _count(after) - _count(middle),
        "port": port,
    }
    m = Measurement(
        name="udp_bad_checksum_dropped", dut=dut.name, value=delivered == 0, unit="bool",
        behaviours=["UD-02"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=[bad.frame_no, good.frame_no],
                          console_lines=[f"udp stat {port}: {s}"
                                         for s in (before, middle, after)],
                          note="frames: the spoiled datagram, then the control"),
    )
    return m.model_copy(update={"related": [
        m.part("udp_bad_checksum_delivered", delivered, "count")]})


# --------------------------------------------------------------------- UD-03
def measure_udp_closed_port(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                            port: int = 47, wait_s: float = 1.0) -> Measurement:
    """A datagram to a port no DUT socket is bound to. value `udp_port_unreachable`:
    an ICMP destination unreachable, code 3 (port), quoting that datagram came back
    within `wait_s`; details its delay (kernel timestamps)."""
    sport = _sport()
    with IcmpListener(peer) as icmp, UdpEndpoint(peer, sport) as ep:
        sent = ep.sendto(b"hilbench", dut_ip, port)

        def unreachable(msg: IcmpMessage) -> bool:
            return (msg.type, msg.code) == (DEST_UNREACH, PORT_UNREACH) \
                and msg.quoted_dport == port and msg.quoted_sport == sport

        reply = icmp.wait_for(unreachable, wait_s)
    details: dict[str, Any] = {
        "icmp": f"type {reply.type} code {reply.code}" if reply else None,
        "delay_ms": round((reply.ts_ns - sent.ts_ns) / 1e6, 3) if reply else None,
        "port": port,
    }
    return Measurement(
        name="udp_port_unreachable", dut=dut.name, value=reply is not None, unit="bool",
        behaviours=["UD-03"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[sent.frame_no] + ([reply.frame_no] if reply else []),
                          note="" if reply else f"no ICMP port unreachable in {wait_s} s"),
    )
