"""Reliable data transfer and header robustness (DT-01, DT-02, DT-03, DT-08).

The peer connects to a DUT listener and sends what a broken or duplicating network
would: a bulk transfer checked by the capture oracle, a segment with a bad checksum,
a duplicate segment, segments with impossible data offsets or malformed options. The
figures say what the DUT did on the wire (ACKs, from kernel timestamps) and what its
application got (`stat` rx_bytes); nothing here judges."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure.flows import (
    accept_id,
    listening,
    on_conn,
    seq_after,
    stream_pattern,
    wait_for,
)
from bench.measure.handshake import pcap_path
from bench.measure.result import Evidence, Measurement
from bench.model import ConnOptions, Peer, TcpError
from bench.model.oracle import ConnectionTrace, analyse_segments
from bench.model.segment import ACK
from firmware_adapters.dut import Dut
from firmware_adapters.errors import DutError


# --------------------------------------------------------------------- DT-01
def measure_seq_accounting(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                           port: int = 7010, nbytes: int = 12000,
                           timeout_s: float = 30.0) -> Measurement:
    """The peer sends `nbytes` to a DUT echo listener and reads them back; the oracle
    rebuilds the connection from the peer's log.

    `seq_counts_bytes`: every new DUT data segment starts where the previous one ended
    (sequence numbers count bytes). Related `ack_cumulative`: every DUT ACK lands on the
    end of a peer segment already sent, never moves back, and the last one covers all."""
    with listening(dut, port, "echo"):
        start = peer.mark()
        conn = peer.connect(dut_ip, port)
        _, line = accept_id(dut, peer, conn)
        conn.send(stream_pattern(0, nbytes))
        echoed = conn.recv_exactly(nbytes, timeout_s)
        conn.wait_acked(timeout_s)
        conn.abort()
    trace = _trace_of(analyse_segments(peer.segments(start), dut_ip).connections,
                      conn.local[1])
    seq_bad, seq_checked = _seq_gaps(trace)
    ack_bad, ack_checked, last_ack = _ack_problems(trace)
    details: dict[str, Any] = {
        "nbytes": nbytes,
        "echo_intact": echoed == stream_pattern(0, nbytes),
        "data_segments_checked": seq_checked,
        "seq_gaps": seq_bad,
        "acks_checked": ack_checked,
        "ack_problems": ack_bad,
        "last_ack_rel": last_ack,
        "oracle_violations": [v.kind for v in trace.violations],
        "port": port,
    }
    m = Measurement(
        name="seq_counts_bytes", dut=dut.name, value=not seq_bad and seq_checked > 0,
        unit="bool", behaviours=["DT-01"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[f for f, _ in seq_bad + ack_bad] or
                          [r.frame_no for r in trace.rows[:3]],
                          console_lines=[line],
                          note="frames: the offending segments, else the handshake"),
    )
    cumulative = not ack_bad and ack_checked > 0 and last_ack == nbytes + 1
    return m.model_copy(update={"related": [m.part("ack_cumulative", cumulative, "bool")]})


def _trace_of(traces: list[ConnectionTrace], peer_port: int) -> ConnectionTrace:
    return next(t for t in traces if t.peer_port == peer_port)


def _seq_gaps(trace: ConnectionTrace) -> tuple[list[tuple[int, str]], int]:
    """DUT data segments (not retransmissions) that do not start at the previous end."""
    expected, checked, bad = 1, 0, []
    for row in trace.rows:
        if row.direction != "tx" or not row.payload_bytes or row.retransmission:
            continue
        checked += 1
        if row.rel_seq != expected:
            bad.append((row.frame_no, f"seq {row.rel_seq}, expected {expected}"))
        expected = row.rel_seq + row.payload_bytes
    return bad, checked


def _ack_problems(trace: ConnectionTrace) -> tuple[list[tuple[int, str]], int, int]:
    """DUT ACKs that point inside a peer segment, beyond what was sent, or backwards."""
    boundaries, sent_end, last, checked, bad = {1}, 1, 0, 0, []
    for row in trace.rows:
        if row.direction == "rx":
            if row.payload_bytes:
                end = row.rel_seq + row.payload_bytes
                boundaries.add(end)
                sent_end = max(sent_end, end)
            continue
        if "A" not in row.flags or "S" in row.flags or "R" in row.flags:
            continue
        checked += 1
        ack = row.rel_ack
        if ack not in boundaries or ack > sent_end:
            bad.append((row.frame_no, f"ack {ack} is no end of a segment the peer sent"))
        elif ack < last:
            bad.append((row.frame_no, f"ack {ack} went back from {last}"))
        last = max(last, ack)
    return bad, checked, last


# --------------------------------------------------------------------- DT-02
def measure_bad_checksum(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                         port: int = 7011, size: int = 100,
                         wait_s: float = 1.0) -> Measurement:
    """The peer sends `size` bytes with a spoiled TCP checksum, then (control) the same
    bytes intact. value `bad_checksum_dropped`: nothing ACKs the spoiled bytes within
    `wait_s` and the application got none; related `bad_checksum_delivered_bytes`."""
    payload = stream_pattern(0, size)
    with listening(dut, port, "check"):
        conn = peer.connect(dut_ip, port)
        cid, line = accept_id(dut, peer, conn)
        start = peer.mark()
        bad = conn.inject("PA", payload=payload, bad_checksum=True)
        time.sleep(wait_s)  # longer than any delayed-ACK timer
        replies = on_conn(peer, start, dut_ip, conn)
        delivered = int(dut.stat(cid).get("rx_bytes", 0))
        conn.send(payload)  # control: the same bytes, intact
        conn.wait_acked(5.0)
        control = dut.stat(cid)
        conn.abort()
    end = (bad.seq + size) & 0xFFFFFFFF
    acked = [s for s in replies if s.flags & ACK and not seq_after(end, s.ack)]
    details: dict[str, Any] = {
        "size": size,
        "replies_to_bad": [s.flags_str for s in replies],
        "acked_bad": bool(acked),
        "delivered_bytes": delivered,
        "control_delivered_bytes": int(control.get("rx_bytes", 0)),
        "control_rx_bad": int(control.get("rx_bad", 0)),
        "port": port,
    }
    m = Measurement(
        name="bad_checksum_dropped", dut=dut.name, value=not acked and delivered == 0,
        unit="bool", behaviours=["DT-02"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[bad.frame_no] + [s.frame_no for s in replies],
                          console_lines=[line]),
    )
    return m.model_copy(update={"related": [
        m.part("bad_checksum_delivered_bytes", delivered, "bytes")]})


# --------------------------------------------------------------------- DT-03
def measure_duplicate_segment(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                              port: int = 7012, size: int = 100,
                              wait_s: float = 1.0) -> Measurement:
    """The peer sends `size` bytes, waits for their ACK, then sends the same segment
    again. value `duplicate_acked`: the DUT ACKs the duplicate (ack = the byte after
    it) within `wait_s`; related `duplicate_delivered_once`: its application got the
    bytes once (`stat` rx_bytes = size, no pattern error)."""
    payload = stream_pattern(0, size)
    with listening(dut, port, "check"):
        conn = peer.connect(dut_ip, port)
        cid, line = accept_id(dut, peer, conn)
        conn.send(payload)
        conn.wait_acked(5.0)
        start = peer.mark()
        dup = conn.inject("PA", seq=1, payload=payload)
        end = (dup.seq + size) & 0xFFFFFFFF
        acks = wait_for(lambda: on_conn(peer, start, dut_ip, conn,
                                        lambda s: bool(s.flags & ACK) and s.ack == end),
                        wait_s)
        time.sleep(0.2)  # let the application read whatever it got
        stat = dut.stat(cid)
        conn.abort()
    delivered = int(stat.get("rx_bytes", 0))
    once = delivered == size and int(stat.get("rx_bad", 0)) == 0
    details: dict[str, Any] = {
        "size": size,
        "ack_delay_ms": round((acks[0].ts_ns - dup.ts_ns) / 1e6, 3) if acks else None,
        "dsack": bool(acks and acks[0].options.sack_blocks),
        "delivered_bytes": delivered,
        "rx_bad": int(stat.get("rx_bad", 0)),
        "port": port,
    }
    m = Measurement(
        name="duplicate_acked", dut=dut.name, value=bool(acks), unit="bool",
        behaviours=["DT-03"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[dup.frame_no] + [s.frame_no for s in acks[:1]],
                          console_lines=[line]),
    )
    return m.model_copy(update={"related": [
        m.part("duplicate_delivered_once", once, "bool")]})


# --------------------------------------------------------------------- DT-08
@dataclass(frozen=True)
class Malformed:
    """One broken segment: a data offset (words) and/or raw options, with a payload."""

    name: str
    data_offset_words: int | None = None
    options_raw: bytes = b""
    bad_offset: bool = False  # the header itself is impossible: must be dropped


MALFORMED: tuple[Malformed, ...] = (
    Malformed("data_offset_4", data_offset_words=4, bad_offset=True),
    Malformed("data_offset_beyond_segment", data_offset_words=15, bad_offset=True),
    Malformed("option_length_0", options_raw=b"\x08\x00\x01\x01"),
    Malformed("option_length_1", options_raw=b"\x05\x01\x01\x01"),
    Malformed("option_past_header", options_raw=b"\x05\x22\x01\x01"),
    Malformed("option_oversized", options_raw=b"\x02\x28" + b"\x00" * 38),
)


def measure_header_robustness(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                              port: int = 7013, size: int = 16,
                              wait_s: float = 0.6) -> Measurement:
    """For each broken segment (MALFORMED) the peer opens a connection, sends it with
    `size` bytes of payload (fewer than a 60-byte header, so offset 15 points beyond
    the segment) and watches for `wait_s`; then the connection is reset.

    value `header_robustness_survives`: afterwards the DUT answers `hello` and accepts
    a new connection that carries data. Related `bad_data_offset_dropped`: no segment
    with an impossible data offset was ACKed or delivered. What each malformed option
    case did (ACKed or not) is in details.cases. Each case ends with the DUT's `abort`,
    whose RST resynchronises both sides (lwIP has only MEMP_NUM_TCP_PCB pcbs)."""
    payload = stream_pattern(0, size)
    cases: dict[str, dict[str, Any]] = {}
    frames: list[int] = []
    plain = ConnOptions(timestamps=False)  # the broken segments carry no valid option
    with listening(dut, port, "check"):
        for case in MALFORMED:
            conn = peer.connect(dut_ip, port, options=plain)
            cid, _ = accept_id(dut, peer, conn)
            # if the DUT takes the bytes, the model's TCB is behind it: answering its
            # ACK of "unsent" data would start an ACK war (RFC 9293 3.10.7.4)
            conn.hold_acks(True)
            start = peer.mark()
            sent = conn.inject("PA", payload=payload, options_raw=case.options_raw,
                               data_offset_words=case.data_offset_words)
            time.sleep(wait_s)
            end = (sent.seq + size) & 0xFFFFFFFF
            acked = on_conn(peer, start, dut_ip, conn,
                            lambda s, end=end: bool(s.flags & ACK) and s.ack == end)
            stat = dut.stat(cid)
            cases[case.name] = {"acked": bool(acked),
                                "delivered_bytes": int(stat.get("rx_bytes", 0)),
                                "state": stat.get("state"), "frame": sent.frame_no}
            frames.append(sent.frame_no)
            dut.abort(cid)  # the DUT's RST matches whatever it took; the peer's might not
            conn.abort()
        problem, lines = _still_serves(dut, peer, dut_ip, port, payload, plain)
    bad_offsets = [c.name for c in MALFORMED if c.bad_offset]
    offsets_dropped = all(not cases[n]["acked"] and cases[n]["delivered_bytes"] == 0
                          for n in bad_offsets)
    details: dict[str, Any] = {"cases": cases, "afterwards": problem or "console and a "
                               "new connection with data OK", "size": size, "port": port}
    m = Measurement(
        name="header_robustness_survives", dut=dut.name, value=problem is None,
        unit="bool", behaviours=["DT-08"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames, console_lines=lines,
                          note="frames: the broken segments, in MALFORMED order"),
    )
    return m.model_copy(update={"related": [
        m.part("bad_data_offset_dropped", offsets_dropped, "bool")]})


def _still_serves(dut: Dut, peer: Peer, dut_ip: str, port: int, payload: bytes,
                  options: ConnOptions) -> tuple[str | None, list[str]]:
    """(None, console lines) when the DUT answers `hello` and takes a new connection
    with data; else (what failed, lines)."""
    try:
        hello = dut.hello()
        conn = peer.connect(dut_ip, port, options=options)
        _, line = accept_id(dut, peer, conn)
        conn.send(payload)
        conn.wait_acked(5.0)
        conn.abort()
    except (DutError, TcpError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}", []
    return None, [f"hello build={hello.build}", line]
