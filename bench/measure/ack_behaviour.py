"""ACK behaviour and SACK, measured on the wire (DT-05, DT-06, DT-07).

The reference peer sends to a DUT listener (out-of-order data, single segments, bursts)
or receives from the DUT while dropping chosen segments; the DUT's ACKs, their delays
(kernel timestamps, both in the peer's capture) and SACK blocks come from the capture
oracle's trace. Nothing here judges.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.measure.flow_control import (
    dut_listener,
    end_link,
    open_link,
    pattern,
    trace_of,
    wait_until,
)
from bench.measure.handshake import dut_settings, pcap_path
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import ConnOptions, DropRule, Peer, Segment
from bench.model.oracle import TraceRow
from firmware_adapters.dut import Dut

# the peer sends everything its window allows at once (no slow start in the way)
BURSTY = ConnOptions(wscale=None, initial_cwnd_bytes=1 << 20)


def ms(a_ns: int, b_ns: int) -> float:
    return round((b_ns - a_ns) / 1e6, 3)


def dt06(m: Measurement) -> Measurement:
    return m.model_copy(update={"behaviours": ["DT-06"]})


def acks_from_dut(rows: list[TraceRow]) -> list[TraceRow]:
    return [r for r in rows if r.direction == "tx" and "A" in r.flags
            and not r.payload_bytes and "S" not in r.flags]


# ------------------------------------------- DT-05 out-of-order data, SACK out (DT-06)
def measure_ooo_ack(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path, port: int = 7105,
                    segments: int = 4, immediate_ms: float = 30.0,
                    settings: dict[str, Any] | None = None) -> Measurement:
    """The peer sends `segments` full segments and loses the first: the rest arrive out
    of order. Each must be answered at once by a duplicate ACK of the hole (with SACK
    blocks when both sides permitted SACK). value = every duplicate ACK came within
    `immediate_ms` of its segment."""
    with dut_settings(dut, settings) as applied, dut_listener(dut, port, mode="check"):
        link = open_link(dut, peer, dut_ip, port, BURSTY)
        smss = link.conn.info().smss_bytes
        first = link.conn.info().snd_nxt  # relative: the first data byte
        hole = (link.conn.iss + first) & 0xFFFFFFFF
        lost = peer.add_drop_rule(DropRule(
            "out", lambda s: s.sport == link.lport and s.seq == hole and bool(s.payload)))
        link.conn.send(pattern(0, segments * smss))
        link.conn.wait_acked(15)
        stat = dut.stat(link.cid)
        trace = trace_of(peer, link, dut_ip)
        end_link(dut, link)

    rows = trace.rows
    ooo = [r for r in rows if r.direction == "rx" and r.payload_bytes and r.rel_seq > 1
           and not r.retransmission][: segments - 1]
    dupacks: list[TraceRow] = []
    delays: list[float] = []
    for seg in ooo:
        answer = next((r for r in acks_from_dut(rows) if r.time_ns >= seg.time_ns
                       and r.rel_ack == 1 and r not in dupacks), None)
        if answer is not None:
            dupacks.append(answer)
            delays.append(ms(seg.time_ns, answer.time_ns))
    sack_rows = [r for r in dupacks if r.sack_blocks]
    ranges = [(r.rel_seq, r.rel_seq + r.payload_bytes) for r in ooo]
    expected_block = (ranges[0][0], ranges[-1][1]) if ranges else None
    sack_negotiated = "sack_perm" in trace.dut_syn_options and \
        "sack_perm" in trace.peer_syn_options
    details: dict[str, Any] = {
        "segment_bytes": smss,
        "lost_dropped": len(lost.dropped),
        "ooo_frames": [r.frame_no for r in ooo],
        "dupack_frames": [r.frame_no for r in dupacks],
        "dupack_delays_ms": delays,
        "sack_negotiated": sack_negotiated,
        "sack_blocks": [list(map(list, r.sack_blocks)) for r in dupacks],
        "sack_expected_last_block": list(expected_block) if expected_block else None,
        "sack_blocks_match": bool(sack_rows) and sack_rows[-1].sack_blocks[0] == expected_block,
        "rx_bytes": int(stat.get("rx_bytes", -1)),
        "rx_bad": int(stat.get("rx_bad", -1)),
        "immediate_ms": immediate_ms,
        "settings": applied,
        "port": port,
    }
    immediate = len(delays) == len(ooo) > 0 and max(delays) <= immediate_ms
    m = Measurement(
        name="ooo_immediate_ack", dut=dut.name, value=immediate, unit="bool",
        behaviours=["DT-05"], samples=delays, details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[r.frame_no for r in ooo + dupacks],
                          console_lines=[link.console],
                          note="frames: the out-of-order segments, then the DUT's "
                               "duplicate ACKs"),
    )
    related = []
    if delays:
        related.append(m.part("ooo_ack_delay_ms", max(delays), "ms",
                              Tolerance(abs=1.0, why="kernel capture timestamps")))
    related.append(dt06(m.part("sack_out", bool(sack_rows), "bool",
                               note="SACK blocks in the duplicate ACKs (peer permitted SACK)")))
    if sack_rows:
        related.append(dt06(m.part("sack_blocks_match", details["sack_blocks_match"], "bool",
                                   note="the newest SACK block covers the out-of-order data")))
    return m.model_copy(update={"related": related})


# ------------------------------------------------- DT-06 the DUT as SACK sender
def measure_sack_recovery(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                          port: int = 7106, lose: tuple[int, ...] = (4, 8),
                          segments: int = 40, timeout_s: float = 30.0,
                          rto_floor_ms: float = 200.0,
                          settings: dict[str, Any] | None = None) -> Measurement:
    """The DUT sends `segments` full segments to a SACK-permitting peer that loses the
    data segments numbered `lose` (0 = the first) once each. value = segments the DUT
    resent / segments lost (1.0: only the holes, as RFC 6675 recovery does).

    A hole "waits for the RTO" when its resend follows the DUT's previous segment by at
    least `rto_floor_ms` (Linux's TCP_RTO_MIN; lwIP's RTO is longer): a RACK reordering
    timer or a delayed fast resend on a loaded host is far shorter on the lab's LAN."""
    with dut_settings(dut, settings) as applied, dut_listener(dut, port):
        link = open_link(dut, peer, dut_ip, port, ConnOptions())
        info = link.conn.info()
        mss = min(info.peer_mss_bytes, 1460) - (12 if info.ts_ok else 0)
        start = (link.conn.irs + 1) & 0xFFFFFFFF
        targets = {(start + k * mss) & 0xFFFFFFFF for k in lose}

        def chosen(s: Segment) -> bool:
            return s.dport == link.lport and bool(s.payload) and s.seq in targets

        rules = [peer.add_drop_rule(DropRule("in", lambda s, t=t: chosen(s) and s.seq == t))
                 for t in sorted(targets)]
        dut.send(link.cid, segments * mss)
        sent = dut.wait_event("sent", timeout_s, id=str(link.cid))
        for rule in rules:
            peer.remove_drop_rule(rule)
        trace = trace_of(peer, link, dut_ip)
        end_link(dut, link)

    data = [r for r in trace.rows if r.direction == "tx" and r.payload_bytes]
    dropped_seqs = {(d.seq - start) & 0xFFFFFFFF for rule in rules for d in rule.dropped}
    lost_rel = sorted(s + 1 for s in dropped_seqs)  # relative seq (first byte = 1)
    # a quick resend of a later hole is marked out-of-order, not retransmission
    resent = [r for r in data if r.retransmission or r.out_of_order]
    needless = [r for r in resent if r.rel_seq not in lost_rel]
    previous = {id(b): a for a, b in zip(data, data[1:], strict=False)}
    gaps_ms = {id(r): (r.time_ns - previous[id(r)].time_ns) / 1e6 if id(r) in previous
               else 0.0 for r in resent}
    by_timeout = [r for r in resent if r.retransmission_kind == "retransmission"
                  and gaps_ms[id(r)] >= rto_floor_ms]
    sacks_seen = [r for r in trace.rows if r.direction == "rx" and r.sack_blocks]
    details: dict[str, Any] = {
        "segment_bytes": mss,
        "lost_rel_seq": lost_rel,
        "resent_rel_seq": [r.rel_seq for r in resent],
        "resent_kinds": [r.retransmission_kind or "out_of_order" for r in resent],
        "holes_resent_by_timeout": len(by_timeout),
        "resend_gaps_ms": [round(gaps_ms[id(r)], 3) for r in resent],
        "resent_frames": [r.frame_no for r in resent],
        "needless_resends": len(needless),
        "sack_negotiated": "sack_perm" in trace.dut_syn_options,
        "peer_sack_acks": len(sacks_seen),
        "settings": applied,
        "port": port,
    }
    ratio = round(len(resent) / len(lost_rel), 4) if lost_rel else None
    m = Measurement(
        name="sack_resent_per_lost", dut=dut.name, value=ratio, unit="ratio",
        behaviours=["DT-06"], samples=[float(r.rel_seq) for r in resent], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=[r.frame_no for r in resent],
                          console_lines=[link.console, sent.raw],
                          note="frames: the DUT's retransmissions"),
    )
    related = [
        m.part("resends_received_data", bool(needless), "bool",
               note="the DUT resent segments the peer had already received"),
        m.part("sack_holes_wait_for_rto", bool(by_timeout), "bool",
               note="a hole was resent neither fast (3 duplicate ACKs) nor quickly, but "
                    f"{rto_floor_ms:g} ms or more after the DUT's previous segment: the "
                    "RTO repaired it"),
    ]
    return m.model_copy(update={"related": related})


# ---------------------------------------------------------- DT-07 delayed ACK
def measure_delayed_ack(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                        port: int = 7107, singles: int = 8, single_bytes: int = 100,
                        gap_s: float = 0.3, warmup: int = 0, burst_segments: int = 16,
                        rounds: int = 3,
                        settings: dict[str, Any] | None = None) -> Measurement:
    """Single small segments about `gap_s` apart while the DUT's application holds its data
    (so no window update can carry the ACK early; the first `warmup` ones may be ACKed
    at once: Linux's quick-ACK mode), then, the application reading again, `rounds`
    bursts of `burst_segments` full segments.

    value = the longest delay from a single segment to its ACK (ms); related: the ACK
    ratio (data segments per ACK) in the bursts."""
    with dut_settings(dut, settings) as applied, dut_listener(dut, port, mode="check"):
        link = open_link(dut, peer, dut_ip, port, BURSTY)
        smss = link.conn.info().smss_bytes
        dut.rx_mode(link.cid, "hold")
        sent = 0
        for i in range(warmup + singles):
            link.conn.send(pattern(sent, single_bytes))
            sent += single_bytes
            link.conn.wait_acked(5)
            time.sleep(gap_s * (1 + (i % 5) / 8))  # varied: meet a timer in every phase
        single_end = sent
        dut.rx_mode(link.cid, "check")
        for _ in range(rounds):
            link.conn.send(pattern(sent, burst_segments * smss))
            sent += burst_segments * smss
            link.conn.wait_acked(10)
            time.sleep(gap_s / 3)  # under the RTO: no return to quick-ACK mode
        wait_until(lambda: int(dut.stat(link.cid).get("rx_bytes", 0)) >= sent, 5)
        stat = dut.stat(link.cid)
        trace = trace_of(peer, link, dut_ip)
        end_link(dut, link)

    rows = trace.rows
    data = [r for r in rows if r.direction == "rx" and r.payload_bytes]
    acks = acks_from_dut(rows)
    delays: list[float] = []
    pairs: list[int] = []
    for seg in data:
        end = seg.rel_seq + seg.payload_bytes
        if end > single_end + 1:
            break
        answer = next((a for a in acks if a.time_ns >= seg.time_ns and a.rel_ack >= end), None)
        if answer is not None:
            delays.append(ms(seg.time_ns, answer.time_ns))
            pairs += [seg.frame_no, answer.frame_no]
    measured = delays[warmup:]
    burst_data = [r for r in data if r.rel_seq > single_end and not r.retransmission]
    first_ns = burst_data[0].time_ns if burst_data else 0
    burst_acks = [a for a in acks if a.time_ns >= first_ns and a.rel_ack > single_end + 1]
    ack_ratio = round(len(burst_data) / len(burst_acks), 4) if burst_acks else None
    details: dict[str, Any] = {
        "single_bytes": single_bytes,
        "segment_bytes": smss,
        "single_delays_ms": delays,
        "warmup": warmup,
        "quick_acks": sum(1 for d in measured if d < 5.0),
        "burst_data_segments": len(burst_data),
        "burst_acks": len(burst_acks),
        "rx_bytes": int(stat.get("rx_bytes", -1)),
        "rx_bad": int(stat.get("rx_bad", -1)),
        "sent_bytes": sent,
        "settings": applied,
        "port": port,
    }
    m = Measurement(
        name="delayed_ack_max_ms", dut=dut.name, value=max(measured) if measured else None,
        unit="ms", behaviours=["DT-07"], samples=measured,
        tolerance=Tolerance(abs=1.0, why="kernel capture timestamps"), details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=pairs, console_lines=[link.console],
                          note="frames: each single segment and the DUT's ACK of it"),
    )
    related = [m.part("ack_ratio", ack_ratio, "ratio",
                      note="data segments per ACK in back-to-back bursts, the "
                           "application reading")]
    return m.model_copy(update={"related": related})


__all__ = ["measure_delayed_ack", "measure_ooo_ack", "measure_sack_recovery"]
