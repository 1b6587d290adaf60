"""A bounded SYN flood from many spoofed lab addresses (HS-12, RFC 4987).

The peer owns a spoofed range for the experiment (it answers the DUT's ARP for those
addresses and receives their SYN-ACKs, but never answers them), sends `count` SYNs as
fast as it can within `max_flood_s`, tries legitimate connections from its own address
during the flood, then probes with single SYNs until the listener answers again.

Which half-open entries the DUT keeps is read from the wire: a kept entry retransmits
its SYN-ACK (the same ISN again after one RTO); a SYN cookie is stateless and never
does. So the half-open queue = spoofed sources whose SYN-ACK came again, and SYN cookies
are in use when some spoofed sources got a SYN-ACK that never came again.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.measure.handshake import blackholed, dut_settings, from_dut, pcap_path, seconds
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import Connection, Peer, Segment, State
from bench.model.segment import ACK, RST, SYN
from firmware_adapters.dut import Dut

MSS_1460 = b"\x02\x04\x05\xb4"
FLOOD_PORTS = 20000  # the spoofed SYNs come from ports FLOOD_PORTS + i
PROBE_PORTS = 19000  # recovery probes from the peer's own address


@contextmanager
def spoofing(peer: Peer, networks: list[str]) -> Iterator[None]:
    """The peer owns `networks` too (ARP answered, frames received) for one experiment."""
    before = peer.own_networks(networks)
    try:
        yield
    finally:
        peer.own_networks(before)


def is_synack(s: Segment) -> bool:
    return s.flags & (SYN | ACK | RST) == SYN | ACK


def measure_syn_flood(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                      port: int = 7020, count: int = 400, max_flood_s: float = 2.0,
                      spoof_net: str = "192.0.2.128/25", backlog: int = 4,
                      legit_attempts: int = 4, legit_timeout_s: float = 2.0,
                      classify_s: float = 4.0, probe_interval_s: float = 0.25,
                      recovery_timeout_s: float = 30.0,
                      settings: dict[str, Any] | None = None) -> Measurement:
    """`count` SYNs from (address, port) pairs of `spoof_net` to a DUT listener opened
    with `backlog`; `legit_attempts` model connections spread through the flood, each
    given `legit_timeout_s`; then one SYN every `probe_interval_s` until a SYN-ACK.

    value = the half-open queue size (spoofed sources whose SYN-ACK was retransmitted,
    counted at least `classify_s` after the flood: more than the DUT's first SYN-ACK
    RTO); related: legit_connect_success_pct (attempts ESTABLISHED `legit_timeout_s`
    after the flood), syn_flood_recovery_s (the DUT's first SYN-ACK to the flood to its
    first SYN-ACK to a probe), syn_cookies. Every half-open entry is reset after."""
    hosts = list(ipaddress.IPv4Network(spoof_net).hosts())
    sources = [(str(hosts[i % len(hosts)]), FLOOD_PORTS + i) for i in range(count)]
    isns = [secrets.randbits(32) for _ in sources]
    probe_ports = set(range(PROBE_PORTS, PROBE_PORTS + 1000))
    legit: list[Connection] = []
    with (dut_settings(dut, settings) as applied, spoofing(peer, [spoof_net]),
          blackholed(peer, {p for _, p in sources} | probe_ports)):
        lid = dut.listen(port, mode="discard", backlog=backlog)
        try:
            peer.resolve(dut_ip)
            start = peer.mark()
            every = max(count // max(legit_attempts, 1), 1)
            deadline = time.monotonic() + max_flood_s
            sent: list[Segment] = []
            for i, ((src, sport), isn) in enumerate(zip(sources, isns, strict=True)):
                sent.append(peer.inject(dut_ip, port, sport, "S", isn,
                                        options_raw=MSS_1460, src=src))
                if len(legit) < legit_attempts and i % every == every // 2:
                    legit.append(peer.connect(dut_ip, port, wait=False))
                if time.monotonic() > deadline:
                    break
            last_syn = sent[-1]
            conns_after = dut.conns()
            legit_deadline = time.monotonic() + legit_timeout_s
            established: list[int] = []

            def judge_legit_once() -> None:  # the legit attempts' outcome at their deadline
                if not established and time.monotonic() >= legit_deadline:
                    established.append(sum(1 for c in legit
                                           if State.ESTABLISHED in c.info().history))

            probes, answer = probe_until_served(peer, start, dut_ip, port, probe_interval_s,
                                                recovery_timeout_s, judge_legit_once)
            while not established:
                judge_legit_once()
                time.sleep(0.05)
            for conn in legit:
                conn.abort()
            time.sleep(max(0.0, last_syn.ts_ns / 1e9 + classify_s - time.time()))
            synacks = from_dut(peer, start, dut_ip,
                               lambda s: s.sport == port and is_synack(s)
                               and FLOOD_PORTS <= s.dport < FLOOD_PORTS + count)
            for (src, sport), isn in zip(sources, isns, strict=False):  # free the queue
                if any(s.dport == sport for s in synacks):
                    peer.inject(dut_ip, port, sport, "R", isn + 1, src=src)
        finally:
            dut.unlisten(lid)

    by_source, kept, stateless = classify_sources(synacks)
    first_synack = min((x.ts_ns for x in synacks), default=None)
    recovery = (seconds(first_synack, answer.ts_ns) if answer and first_synack else None)
    flood_s = seconds(sent[0].ts_ns, last_syn.ts_ns)
    details: dict[str, Any] = {
        "syns_sent": len(sent),
        "flood_s": flood_s,
        "spoofed_addresses": min(len(hosts), len(sent)),
        "synacked_sources": len(by_source),
        "kept_sources": len(kept),
        "cookie_sources": len(stateless),
        "synack_isn_example": [by_source[p][0].seq for p in (kept + stateless)[:4]],
        "dut_syn_rcvd_after_flood": sum(1 for c in conns_after if c.state == "SYN_RCVD"),
        "legit_attempts": len(legit),
        "legit_established": established[0],
        "probes": len(probes),
        "recovery_basis": "the DUT's first SYN-ACK to the flood (the queue starts to "
                          "fill) to its first SYN-ACK to a probe (kernel RX timestamps); "
                          "probing starts as the flood ends",
        "listen_backlog": backlog,
        "context": {"listen_backlog": backlog},  # what the profile's formula needs
        "settings": applied,
        "port": port,
    }
    frames = ([sent[0].frame_no, last_syn.frame_no] + [s.frame_no for s in synacks[:50]]
              + ([answer.frame_no] if answer else []))
    m = Measurement(
        name="half_open_queue_size", dut=dut.name, value=len(kept), unit="count",
        behaviours=["HS-12"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames,
                          note="frames: first and last flood SYN, up to 50 SYN-ACKs, "
                               "the first answered probe"),
    )
    pct = round(100.0 * established[0] / len(legit), 1) if legit else None
    return m.model_copy(update={"related": [
        m.part("legit_connect_success_pct", pct, "percent",
               Tolerance(abs=round(100.0 / len(legit), 1) if legit else 0.0,
                         why="one legitimate attempt")),
        m.part("syn_flood_recovery_s", recovery, "s",
               Tolerance(abs=round(flood_s + probe_interval_s, 3),
                         why="the flood's length plus one probe interval"),
               note="" if answer else f"no probe answered within {recovery_timeout_s} s"),
        m.part("syn_cookies", bool(stateless) and bool(by_source), "bool"),
    ]})


def classify_sources(synacks: list[Segment]
                     ) -> tuple[dict[int, list[Segment]], list[int], list[int]]:
    """SYN-ACKs by the spoofed port they answer; the ports whose SYN-ACK came again with
    the same ISN (entries the DUT kept) and those answered only once (stateless: cookies)."""
    by_source: dict[int, list[Segment]] = defaultdict(list)
    for s in synacks:
        by_source[s.dport].append(s)
    kept = sorted(p for p, segs in by_source.items()
                  if len(segs) > 1 and segs[1].seq == segs[0].seq)
    stateless = sorted(p for p, segs in by_source.items() if len(segs) == 1)
    return dict(by_source), kept, stateless


def probe_until_served(peer: Peer, since: int, dut_ip: str, port: int, interval_s: float,
                       timeout_s: float, tick: Callable[[], None]
                       ) -> tuple[list[Segment], Segment | None]:
    """One SYN from the peer's address every `interval_s` (a fresh port each) until the
    DUT answers one with a SYN-ACK (then reset it); returns the probes and that SYN-ACK.
    `tick` runs between probes (the legit attempts' deadline)."""
    probes: list[Segment] = []
    deadline = time.monotonic() + timeout_s

    def probe_answer(s: Segment) -> bool:
        return s.sport == port and is_synack(s) and PROBE_PORTS <= s.dport < PROBE_PORTS + 1000

    while time.monotonic() < deadline:
        probes.append(peer.inject(dut_ip, port, PROBE_PORTS + len(probes), "S",
                                  secrets.randbits(32), options_raw=MSS_1460))
        wait_until = time.monotonic() + interval_s
        while time.monotonic() < wait_until:
            answers = from_dut(peer, since, dut_ip, probe_answer)
            if answers:
                syn = next(p for p in probes if p.sport == answers[0].dport)
                peer.inject(dut_ip, port, syn.sport, "R", syn.seq + 1)
                return probes, answers[0]
            tick()
            time.sleep(0.02)
    return probes, None
