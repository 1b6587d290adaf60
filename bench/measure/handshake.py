"""Connection establishment, measured on the wire (HS-06, HS-07, HS-08, HS-11).

Each `measure_*` reads as the experiment: set up, provoke, observe, return figures.
Every time comes from the kernel timestamps of captured segments (the peer's pcapng);
the only exception, the DUT's console event for a failed connect, is reported apart
and says so. Nothing here judges: bench.verdict compares the figures with a profile.
"""

from __future__ import annotations

import ipaddress
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import Peer, Segment
from bench.model.segment import ACK, RST, SYN
from firmware_adapters.dut import Dut, Event
from firmware_adapters.errors import DutTimeout

# Kernel RX/TX timestamps of one capture: far better than a millisecond.
CAPTURE = Tolerance(abs=0.001, why="kernel capture timestamps (+-1 ms)")
EXACT = Tolerance()


# ----------------------------------------------------------------------- helpers
def pcap_path(peer: Peer) -> str | None:
    """The peer's capture, flushed so that it can be opened now."""
    peer.flush_pcap()
    return str(peer.pcap.path) if peer.pcap is not None else None


def from_dut(peer: Peer, since: int, dut_ip: str,
             keep: Callable[[Segment], bool] = lambda s: True) -> list[Segment]:
    """Segments the DUT sent (logged from position `since`) that `keep` accepts."""
    raw = ipaddress.IPv4Address(dut_ip).packed
    return [s for s in peer.segments(since) if s.direction == "in" and s.src_ip == raw
            and keep(s)]


def seconds(a_ns: int, b_ns: int) -> float:
    return round((b_ns - a_ns) / 1e9, 6)


def intervals_s(segs: list[Segment]) -> list[float]:
    return [seconds(a.ts_ns, b.ts_ns) for a, b in zip(segs, segs[1:], strict=False)]


def ratios(values: list[float]) -> list[float]:
    return [round(b / a, 4) for a, b in zip(values, values[1:], strict=False) if a > 0]


def free_port() -> int:
    return 40000 + secrets.randbelow(20000)


def console_time_ns(event: Event) -> int:
    """The host's reading time of a console event on the capture's clock (realtime).

    Console-based: includes the console's latency, unlike a kernel timestamp."""
    offset_ns = time.time_ns() - time.monotonic_ns()
    return int(event.read_at_s * 1e9) + offset_ns


@contextmanager
def blackholed(peer: Peer, ports: set[int]) -> Iterator[None]:
    """The peer sees segments to `ports` that match no connection and answers nothing."""
    before = (peer.blackhole_enabled, peer.blackhole_ports)
    peer.blackhole(True, ports)
    try:
        yield
    finally:
        peer.blackhole(before[0], before[1])


@contextmanager
def dut_settings(dut: Dut, settings: dict[str, Any] | None) -> Iterator[dict[str, str]]:
    """Set DUT constants (`set KEY VALUE`) for one experiment, restore them after."""
    settings = settings or {}
    old = dut.consts() if settings else {}
    for key, value in settings.items():
        dut.set_const(key, str(value))
    try:
        yield {k: str(v) for k, v in settings.items()}
    finally:
        for key in settings:
            if key in old:
                dut.set_const(key, old[key])


def _is_syn(s: Segment) -> bool:
    return s.flags & (SYN | ACK | RST) == SYN


def _is_synack(s: Segment) -> bool:
    return s.flags & (SYN | ACK | RST) == SYN | ACK


# -------------------------------------------------------------- HS-08 SYN retries
def measure_syn_retries(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                        port: int = 7001, timeout_s: float = 60.0,
                        settings: dict[str, Any] | None = None,
                        rst_wait_s: float = 1.0) -> Measurement:
    """The DUT connects to a peer port that never answers; count its SYNs.

    value = SYN retransmissions; samples = intervals between SYNs (s). `settings` are
    DUT constants set for the experiment only (Linux: {"tcp_syn_retries": 2})."""
    with dut_settings(dut, settings) as applied, blackholed(peer, {port}):
        start = peer.mark()
        cid = dut.connect(peer.ip, port)
        try:
            event: Event | None = dut.wait_event("error", timeout_s, id=str(cid))
        except DutTimeout:
            event = None
            dut.abort(cid)
        time.sleep(rst_wait_s)  # a RST, if any, follows the give-up at once

    def to_port(s: Segment) -> bool:
        return s.dport == port

    syns = [s for s in from_dut(peer, start, dut_ip, to_port) if _is_syn(s)]
    rsts = [s for s in from_dut(peer, start, dut_ip, to_port) if s.flags & RST]
    gaps = intervals_s(syns)
    first_ns = syns[0].ts_ns if syns else 0
    console_give_up = (seconds(first_ns, console_time_ns(event))
                       if event is not None and syns else None)
    details: dict[str, Any] = {
        "syns": len(syns),
        "syn_intervals_s": gaps,
        "syn_send_times_s": [seconds(first_ns, s.ts_ns) for s in syns],
        "backoff_factors": ratios(gaps),
        "last_syn_s": seconds(first_ns, syns[-1].ts_ns) if syns else None,
        "give_up_s": console_give_up,
        "give_up_basis": "console: from the first SYN (kernel timestamp) to the host "
                         "reading 'EVT error' (includes console latency)",
        "error_code": event.fields.get("code") if event is not None else None,
        "error_seen": event is not None,
        "rst_sent": bool(rsts),
        "settings": applied,
        "port": port,
    }
    lines = [event.raw] if event is not None and event.raw else []
    return with_related(Measurement(
        name="syn_retries", dut=dut.name, value=max(len(syns) - 1, 0), unit="count",
        behaviours=["HS-08"], samples=gaps, details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=[s.frame_no for s in syns + rsts],
                          console_lines=lines,
                          note="" if event else f"no 'EVT error' within {timeout_s} s"),
    ))


# ---------------------------------------------------------- HS-07 SYN-ACK retries
def measure_synack_retries(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                           port: int = 7002, quiet_min_s: float = 5.0,
                           quiet_factor: float = 2.2, timeout_s: float = 90.0,
                           settings: dict[str, Any] | None = None) -> Measurement:
    """The DUT listens; the peer sends one SYN and never answers the SYN-ACKs.

    SYN-ACKs are collected until none came for max(quiet_min_s, quiet_factor x the
    last interval). value = SYN-ACK retransmissions; samples = intervals (s)."""
    sport = free_port()
    isn = secrets.randbits(32)
    with dut_settings(dut, settings) as applied, blackholed(peer, {sport}):
        lid = dut.listen(port, mode="discard")
        try:
            start = peer.mark()
            syn = peer.inject(dut_ip, port, sport, "S", isn,
                              options_raw=b"\x02\x04\x05\xb4")  # MSS 1460

            def flow(s: Segment) -> bool:
                return s.sport == port and s.dport == sport

            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                seen = [s for s in from_dut(peer, start, dut_ip, flow) if _is_synack(s)]
                if seen:
                    gaps = intervals_s(seen)
                    quiet_s = max(quiet_min_s, quiet_factor * (gaps[-1] if gaps else 1.0))
                    if time.time_ns() - seen[-1].ts_ns > quiet_s * 1e9:
                        break
                time.sleep(0.2)
        finally:
            dut.unlisten(lid)
    replies = from_dut(peer, start, dut_ip, flow)
    synacks = [s for s in replies if _is_synack(s)]
    rsts = [s for s in replies if s.flags & RST]
    gaps = intervals_s(synacks)
    details: dict[str, Any] = {
        "synacks": len(synacks),
        "synack_intervals_s": gaps,
        "synack_send_times_s": [seconds(syn.ts_ns, s.ts_ns) for s in synacks],
        "backoff_factors": ratios(gaps),
        "backoff_factor": round(statistics.median(ratios(gaps)), 4) if len(gaps) > 1 else None,
        "first_synack_delay_ms": (round((synacks[0].ts_ns - syn.ts_ns) / 1e6, 3)
                                  if synacks else None),
        "last_synack_s": seconds(syn.ts_ns, synacks[-1].ts_ns) if synacks else None,
        "rst_sent": bool(rsts),
        "rst_at_s": seconds(syn.ts_ns, rsts[0].ts_ns) if rsts else None,
        "give_up_s": seconds(syn.ts_ns, rsts[0].ts_ns) if rsts else None,
        "give_up_basis": "the RST's kernel timestamp" if rsts else
                         "not observable: no RST (silent drop)",
        "settings": applied,
        "port": port,
    }
    return with_related(Measurement(
        name="synack_retries", dut=dut.name, value=max(len(synacks) - 1, 0), unit="count",
        behaviours=["HS-07"], samples=gaps, details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[syn.frame_no] + [s.frame_no for s in synacks + rsts]),
    ))


# --------------------------------------------------------- HS-11 RST on closed port
def measure_rst_on_closed_port(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 47, wait_s: float = 2.0) -> Measurement:
    """The peer sends a SYN to a port nobody listens on: does the DUT answer RST+ACK?"""
    sport = free_port()
    isn = secrets.randbits(32)
    start = peer.mark()
    syn = peer.inject(dut_ip, port, sport, "S", isn)

    def reply(s: Segment) -> bool:
        return s.sport == port and s.dport == sport

    deadline = time.monotonic() + wait_s
    answers = from_dut(peer, start, dut_ip, reply)
    while not answers and time.monotonic() < deadline:
        time.sleep(0.05)
        answers = from_dut(peer, start, dut_ip, reply)
    rst = next((s for s in answers if s.flags & RST), None)
    details: dict[str, Any] = {
        "reply_flags": answers[0].flags_str if answers else None,
        "reply_delay_ms": round((rst.ts_ns - syn.ts_ns) / 1e6, 3) if rst else None,
        "rst_ack_ok": bool(rst and rst.flags & ACK and rst.ack == (isn + 1) & 0xFFFFFFFF),
        "port": port,
    }
    return Measurement(
        name="rst_on_closed_port", dut=dut.name, value=rst is not None, unit="bool",
        behaviours=["HS-11"], samples=[details["reply_delay_ms"]] if rst else [],
        details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[syn.frame_no] + [s.frame_no for s in answers],
                          note="" if answers else f"no reply within {wait_s} s"),
    )


# ------------------------------------------------------------ HS-06 ISN predictability
def synack_of(peer: Peer, since: int, dut_ip: str, lport: int, dport: int) -> Segment:
    segs = from_dut(peer, since, dut_ip,
                    lambda s: s.dport == lport and s.sport == dport and _is_synack(s))
    if not segs:
        raise RuntimeError(f"no SYN-ACK from {dut_ip}:{dport} to port {lport} in the log")
    return segs[0]


def measure_isn_predictability(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 7003, count: int = 8,
                               small_step: int = 1 << 24) -> Measurement:
    """`count` connections from the peer to a DUT listener; the ISNs of its SYN-ACKs.

    Predictable: zero, constant, or every step forward (or none) and below `small_step`
    (a keyed hash per RFC 6528 spreads the steps over all 2**32)."""
    synacks: list[Segment] = []
    lines: list[str] = []
    lid = dut.listen(port, mode="discard")
    try:
        for _ in range(count):
            start = peer.mark()
            conn = peer.connect(dut_ip, port)
            lport = conn.local[1]
            synacks.append(synack_of(peer, start, dut_ip, lport, port))
            accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
            lines.append(accepted.raw)
            conn.abort()  # a RST frees the DUT's pcb at once (lwIP has only a few)
            time.sleep(0.05)
    finally:
        dut.unlisten(lid)
    isns = [s.seq for s in synacks]
    steps = [(b - a) & 0xFFFFFFFF for a, b in zip(isns, isns[1:], strict=False)]
    constant = len(set(isns)) == 1
    small = bool(steps) and all(d < small_step for d in steps)  # never backwards
    details: dict[str, Any] = {
        "isns": isns,
        "steps": steps,
        "zero": any(i == 0 for i in isns),
        "constant": constant,
        "repeated": len(set(isns)) < len(isns),
        "constant_step": len(set(steps)) == 1 if steps else None,
        "monotonic_small_steps": small,
        "small_step_limit": small_step,
        "span_bits": max(steps).bit_length() if steps else 0,
    }
    return Measurement(
        name="isn_predictable", dut=dut.name, value=constant or small or details["zero"],
        unit="bool", behaviours=["HS-06"], samples=[float(d) for d in steps],
        details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=[s.frame_no for s in synacks],
                          console_lines=lines),
    )


# ------------------------------------------------------ figures the profile judges
def with_related(m: Measurement) -> Measurement:
    """A retries measurement with its further figures attached as `related`
    (syn_intervals_s, syn_give_up_s, synack_backoff_factor, ...), judged by name."""
    d = m.details
    out: list[Measurement] = []
    if m.name == "syn_retries":
        out.append(m.part("syn_intervals_s", d["syn_intervals_s"], "s", CAPTURE))
        factors = d["backoff_factors"]
        if factors:
            out.append(m.part("syn_backoff_factor", round(statistics.median(factors), 4),
                              "ratio"))
        if d["give_up_s"] is not None:
            out.append(m.part("syn_give_up_s", d["give_up_s"], "s",
                              Tolerance(abs=0.1, why="console latency of 'EVT error'"),
                              note=d["give_up_basis"]))
    elif m.name == "synack_retries":
        out.append(m.part("synack_intervals_s", d["synack_intervals_s"], "s", CAPTURE))
        if d["backoff_factor"] is not None:
            out.append(m.part("synack_backoff_factor", d["backoff_factor"], "ratio"))
        out.append(m.part("synack_half_open_rst", d["rst_sent"], "bool"))
        if d["give_up_s"] is not None:
            out.append(m.part("synack_give_up_s", d["give_up_s"], "s", CAPTURE))
    return m.model_copy(update={"related": out})
