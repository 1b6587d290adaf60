"""Flow control, measured on the wire (FC-01 to FC-04).

Each `measure_*` reads as the experiment: the reference peer opens a connection to a
DUT listener and plays the receiver (small windows, a zero window with a lost window
update, window scale offered or not), or the sender (the DUT's application holds its
data, then reads). Flight and window figures come from the capture oracle's trace
(`bench.model.oracle`), times from kernel timestamps. Nothing here judges.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure.handshake import (
    CAPTURE,
    EXACT,
    dut_settings,
    intervals_s,
    pcap_path,
    ratios,
    seconds,
)
from bench.measure.result import Evidence, Measurement
from bench.model import Connection, ConnOptions, DropRule, Peer, Segment
from bench.model.oracle import ConnectionTrace, TraceRow, analyse_segments
from firmware_adapters.dut import Dut

PATTERN_MOD = 251
# the peer offers no window scale unless a measurement is about it: raw = bytes
PLAIN = ConnOptions(wscale=None)


# ----------------------------------------------------------------------- helpers
@dataclass
class Link:
    """One connection from the peer to a DUT listener: both ends and where its log starts."""

    conn: Connection
    cid: int  # the DUT's connection id
    lport: int  # the peer's port
    start: int  # peer log position before the SYN
    console: str  # the DUT's 'EVT accepted' line


@contextmanager
def dut_listener(dut: Dut, port: int, mode: str = "discard") -> Iterator[int]:
    lid = dut.listen(port, mode=mode)
    try:
        yield lid
    finally:
        dut.unlisten(lid)


def open_link(dut: Dut, peer: Peer, dut_ip: str, port: int,
              options: ConnOptions = PLAIN) -> Link:
    """The peer connects to the DUT's listener on `port`; the DUT's id from its event."""
    start = peer.mark()
    conn = peer.connect(dut_ip, port, options)
    lport = conn.local[1]
    accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
    return Link(conn, int(accepted.fields["id"]), lport, start, accepted.raw)


def end_link(dut: Dut, link: Link) -> None:
    """Reset the connection (frees an lwIP pcb at once) and let the DUT report it."""
    link.conn.abort()
    try:
        dut.wait_event("error", 2, id=str(link.cid))
    except Exception:  # noqa: BLE001 - a DUT that reports nothing is fine here
        pass


def trace_of(peer: Peer, link: Link, dut_ip: str) -> ConnectionTrace:
    """The oracle's trace of this link's connection (segments logged since its SYN)."""
    result = analyse_segments(peer.segments(link.start), dut_ip)
    for conn in result.connections:
        if conn.peer_port == link.lport:
            return conn
    raise RuntimeError(f"no segments of the connection from port {link.lport}")


def data_mss(conn: Connection) -> int:
    """Payload bytes per full segment the DUT sends to this peer connection."""
    info = conn.info()
    offered = min(info.peer_mss_bytes, PLAIN.mss_bytes or 536)
    return offered - (12 if info.ts_ok else 0)


def pattern(offset: int, length: int) -> bytes:
    """The console protocol's stream pattern byte[k] = k mod 251, from `offset`."""
    return bytes((offset + i) % PATTERN_MOD for i in range(length))


def sent_by_dut(rows: list[TraceRow]) -> list[TraceRow]:
    return [r for r in rows if r.direction == "tx" and r.payload_bytes]


def wait_until(predicate: Any, timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll `predicate` (Python's clock only bounds the wait)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step_s)
    return True


def flight_ratios(rows: list[TraceRow]) -> list[tuple[TraceRow, int, float]]:
    """For every data segment of the DUT: (row, the peer's last window, flight/window).

    Zero-window probes (sent when the window is 0) are left out: they are allowed."""
    out: list[tuple[TraceRow, int, float]] = []
    rwnd: int | None = None
    for row in rows:
        if row.direction == "rx":
            if "S" not in row.flags:
                rwnd = row.window_bytes
            continue
        if row.payload_bytes and rwnd:
            out.append((row, rwnd, round(row.bytes_in_flight / rwnd, 4)))
    return out


# ------------------------------------------------------- FC-01 flight vs window
def measure_flight_window(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                          port: int = 7101, windows_segments: tuple[int, ...] = (2, 3, 5),
                          segments_each: int = 12, timeout_s: float = 30.0,
                          settings: dict[str, Any] | None = None) -> Measurement:
    """The peer advertises a small window (k full segments) from its SYN on and keeps it
    (`set_window`) while the DUT sends `segments_each` windows of data; value = the
    largest flight / window. The window never shrinks: a stack may ignore a pure window
    update that shrinks it (Linux tcp_may_update_window(); RFC 9293 3.8.6.2.2)."""
    per_window: list[dict[str, Any]] = []
    frames: list[int] = []
    lines: list[str] = []
    with dut_settings(dut, settings) as applied, dut_listener(dut, port):
        sizing = open_link(dut, peer, dut_ip, port)
        mss = data_mss(sizing.conn)
        end_link(dut, sizing)
        for k in windows_segments:
            window = k * mss
            link = open_link(dut, peer, dut_ip, port,
                             ConnOptions(wscale=None, window_bytes=window))
            link.conn.set_window(window)
            dut.send(link.cid, window * segments_each)
            sent = dut.wait_event("sent", timeout_s, id=str(link.cid))
            trace = trace_of(peer, link, dut_ip)
            end_link(dut, link)
            worst = max(flight_ratios(trace.rows), key=lambda t: t[2])
            per_window.append({"window_bytes": window, "window_segments": k,
                               "max_flight_bytes": worst[0].bytes_in_flight,
                               "ratio": worst[2], "frame": worst[0].frame_no,
                               "beyond_window": sum(v.kind == "beyond_window"
                                                    for v in trace.violations)})
            frames.append(worst[0].frame_no)
            lines += [link.console, sent.raw]
    value = max(w["ratio"] for w in per_window)
    return Measurement(
        name="max_flight_window_ratio", dut=dut.name, value=value, unit="ratio",
        behaviours=["FC-01"], samples=[w["ratio"] for w in per_window], tolerance=EXACT,
        details={"windows": per_window, "settings": applied, "port": port,
                 "basis": "oracle bytes_in_flight of each DUT data segment / the last "
                          "window the peer advertised"},
        evidence=Evidence(pcap=pcap_path(peer), frames=frames, console_lines=lines,
                          note="frames: the segment with the largest flight per window"),
    )


# ------------------------------------------------ FC-02 zero window, persist timer
def lost_window_update(link: Link) -> DropRule:
    """Drops the peer's next pure ACK that opens the window (the lost update)."""
    def update(seg: Segment) -> bool:
        return (seg.sport == link.lport and not seg.payload and seg.window > 0
                and seg.flags & 0x07 == 0)
    return DropRule("out", update, count=1)


def measure_zero_window(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                        port: int = 7102, window_bytes: int = 4096, probes: int = 3,
                        send_bytes: int = 65536, timeout_s: float = 60.0,
                        settings: dict[str, Any] | None = None) -> Measurement:
    """The peer's application reads nothing, so its `window_bytes` buffer fills and it
    advertises a zero window; after `probes` zero-window probes it reads everything, and
    its window update is lost. The DUT must recover through its next probe.

    value = persist intervals (s): zero-window ACK to the first probe, then probe to
    probe, up to and including the probe that finds the window open."""
    options = ConnOptions(wscale=None, window_bytes=window_bytes)
    with dut_settings(dut, settings) as applied, dut_listener(dut, port):
        link = open_link(dut, peer, dut_ip, port, options)
        mine = link.lport
        dut.send(link.cid, send_bytes)

        def zero_acks() -> list[Segment]:
            return [s for s in peer.segments(link.start) if s.direction == "out"
                    and s.sport == mine and s.window == 0 and not s.flags & 0x07]

        def probes_after(t0_ns: int) -> list[Segment]:
            return [s for s in peer.segments(link.start) if s.direction == "in"
                    and s.dport == mine and s.ts_ns > t0_ns and len(s.payload) <= 1]

        closed = wait_until(lambda: bool(zero_acks()), 10)
        t0 = zero_acks()[0] if closed else None
        at_zero = dut.stat(link.cid)  # the DUT's RTO then (Linux probes at RTO << n)
        if t0 is not None:
            wait_until(lambda: len(probes_after(t0.ts_ns)) >= probes, timeout_s)
        rule = peer.add_drop_rule(lost_window_update(link))
        reopen_mark = peer.mark()
        read = len(link.conn.recv(window_bytes, timeout_s=1))  # the update is lost

        def new_data() -> list[Segment]:
            return [s for s in peer.segments(reopen_mark) if s.direction == "in"
                    and s.dport == mine and len(s.payload) > 1]

        gaps = intervals_s(probes_after(t0.ts_ns)) if t0 else []
        wait_s = 2.5 * max(gaps or [1.0]) + 3.0
        recovered = wait_until(lambda: bool(new_data()), min(wait_s, timeout_s))
        peer.remove_drop_rule(rule)
        trace = trace_of(peer, link, dut_ip)
        end_link(dut, link)

    seen = probes_after(t0.ts_ns) if t0 is not None else []
    first_data = new_data()[0] if recovered else None
    probe_segs = [s for s in seen if first_data is None or s.ts_ns < first_data.ts_ns]
    times = [t0.ts_ns, *[s.ts_ns for s in probe_segs]] if t0 else []
    series = [seconds(a, b) for a, b in zip(times, times[1:], strict=False)]
    factors = ratios(series[1:])
    details: dict[str, Any] = {
        "zero_window_seen": t0 is not None,
        "probes": len(probe_segs),
        "probe_payload_bytes": [len(s.payload) for s in probe_segs],
        "probe_send_times_s": [seconds(times[0], t) for t in times[1:]] if times else [],
        "backoff_factors": factors,
        "update_lost": bool(rule.dropped),  # dropped before the wire: in no capture
        "read_bytes": read,
        "recovered": first_data is not None,
        "dut_rto_ms_at_zero_window": at_zero.get("rto_ms"),
        "recovery_s": (seconds(probe_segs[-1].ts_ns, first_data.ts_ns)
                       if first_data and probe_segs else None),
        "violations": [v.kind for v in trace.violations],
        "settings": applied,
        "port": port,
    }
    frames = ([t0.frame_no] if t0 else []) + [s.frame_no for s in probe_segs] + (
        [first_data.frame_no] if first_data else [])
    m = Measurement(
        name="persist_intervals_s", dut=dut.name, value=series, unit="s",
        behaviours=["FC-02"], samples=series, tolerance=CAPTURE, details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames, console_lines=[link.console],
                          note="frames: the zero-window ACK, the probes, the first data "
                               "after the lost window update"),
    )
    related = [m.part("zero_window_recovered", details["recovered"], "bool")]
    if series:
        related.append(m.part("persist_first_probe_s", series[0], "s", CAPTURE))
    if factors:
        related.append(m.part("persist_backoff_factor",
                              round(statistics.median(factors), 4), "ratio"))
    return m.model_copy(update={"related": related})


# ------------------------------------------------------ FC-03 window scaling
def measure_window_scaling(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                           port: int = 7103, window_bytes: int = 4096, peer_shift: int = 7,
                           windows_each: int = 8, timeout_s: float = 30.0,
                           settings: dict[str, Any] | None = None) -> Measurement:
    """Two connections, the peer offering window scale `peer_shift` on the first and
    none on the second, each advertising `window_bytes` while the DUT sends.

    The DUT honours scaling when its flight exceeds the raw window field exactly when
    both SYNs carried the option, and never exceeds the effective window."""
    cases: list[dict[str, Any]] = []
    frames: list[int] = []
    lines: list[str] = []
    with dut_settings(dut, settings) as applied, dut_listener(dut, port):
        # a multiple of the scale unit: the scaled field then says exactly window_bytes
        window_bytes -= window_bytes % (1 << peer_shift)
        for offer in (peer_shift, None):
            link = open_link(dut, peer, dut_ip, port,
                             ConnOptions(wscale=offer, window_bytes=window_bytes))
            info = link.conn.info()
            link.conn.set_window(window_bytes)
            dut.send(link.cid, window_bytes * windows_each)
            sent = dut.wait_event("sent", timeout_s, id=str(link.cid))
            trace = trace_of(peer, link, dut_ip)
            end_link(dut, link)
            dut_offered = "wscale" in trace.dut_syn_options
            both = dut_offered and offer is not None
            shift = info.rcv_wscale if both else 0
            raw = window_bytes >> shift
            effective = raw << shift
            data = sent_by_dut(trace.rows)
            flight = max((r.bytes_in_flight for r in data), default=0)
            dut_windows = [r.window_bytes for r in trace.rows
                           if r.direction == "tx" and "S" not in r.flags]
            scaled_in_use = flight > raw
            cases.append({
                "peer_offered_shift": offer, "dut_offered": dut_offered,
                "dut_shift": info.snd_wscale if both else None,
                "both_offered": both, "raw_window_field": raw,
                "effective_window_bytes": effective, "max_flight_bytes": flight,
                "scaling_in_use": scaled_in_use,
                "within_window": flight <= effective,
                "honoured": scaled_in_use == both and flight <= effective,
                "dut_windows_bytes": sorted(set(dut_windows))[:20],
                "dut_window_max_bytes": max(dut_windows, default=None),
            })
            frames += [r.frame_no for r in trace.rows if "S" in r.flags]
            lines += [link.console, sent.raw]
    honoured = all(c["honoured"] for c in cases)
    m = Measurement(
        name="window_scale_honoured", dut=dut.name, value=honoured, unit="bool",
        behaviours=["FC-03"], details={"cases": cases, "settings": applied, "port": port},
        evidence=Evidence(pcap=pcap_path(peer), frames=frames, console_lines=lines,
                          note="frames: the SYN and SYN-ACK of each case"),
    )
    scaled, plain = cases
    related = [m.part("window_scale", scaled["dut_offered"], "bool")]
    if scaled["both_offered"]:
        related.append(m.part("window_scale_shift", scaled["dut_shift"], "count"))
    related += [
        m.part("scaled_window_max_bytes", scaled["dut_window_max_bytes"], "bytes",
               note="the DUT's largest advertised window (effective bytes) when the peer "
                    "offered window scale"),
        m.part("unscaled_window_max_bytes", plain["dut_window_max_bytes"], "bytes",
               note="the same when the peer offered no window scale"),
    ]
    return m.model_copy(update={"related": related})


# ------------------------------------------------ FC-04 the DUT as receiver
def measure_receive_window(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                           port: int = 7104, send_bytes: int = 262144,
                           hold_s: float = 0.4, timeout_s: float = 30.0,
                           settings: dict[str, Any] | None = None) -> Measurement:
    """The DUT's application holds (`rx id hold`) while the peer sends: the DUT's window
    must close (below one full segment: the peer cannot send); then it reads (`rx id
    check`): its window must reopen by a window update of its own. value = the window
    reopened and every byte arrived intact."""
    with dut_settings(dut, settings) as applied, dut_listener(dut, port, mode="check"):
        link = open_link(dut, peer, dut_ip, port)
        dut.rx_mode(link.cid, "hold")
        smss = link.conn.info().smss_bytes
        link.conn.send(pattern(0, send_bytes))

        def stalled() -> bool:
            info = link.conn.info()
            return info.snd_una == info.snd_max and info.snd_wnd_bytes < smss

        closed = wait_until(stalled, timeout_s)
        time.sleep(hold_s)  # closed for a while (the peer's first probe comes after 1 s)
        read_mark = peer.mark()
        dut.rx_mode(link.cid, "check")
        try:
            link.conn.wait_acked(timeout_s)
            delivered = True
        except (TimeoutError, RuntimeError):
            delivered = False
        stat = dut.stat(link.cid)
        trace = trace_of(peer, link, dut_ip)
        end_link(dut, link)

    rows = [r for r in trace.rows if "S" not in r.flags]
    mine = [r for r in rows if r.direction == "tx"]
    changes = [r for i, r in enumerate(mine)
               if i == 0 or r.window_bytes != mine[i - 1].window_bytes]
    windows = [(seconds(rows[0].time_ns, r.time_ns), r.window_bytes) for r in changes]
    zero = [r for r in mine if r.window_bytes < smss]
    shrunk = shrinking_rows(mine)
    logged = peer.segments(read_mark)
    update = first_update(trace.rows, logged[0].frame_no if logged else None, smss)
    details: dict[str, Any] = {
        "window_closed": closed,
        "window_change_times_s": [t for t, _ in windows][:100],
        "window_changes_bytes": [w for _, w in windows][:100],
        "closed_window_frames": [r.frame_no for r in zero][:20],
        "closed_below_bytes": smss,
        "right_edge_shrunk_frames": [r.frame_no for r in shrunk][:20],
        "update": update,
        "delivered": delivered,
        "rx_bytes": int(stat.get("rx_bytes", -1)),
        "rx_bad": int(stat.get("rx_bad", -1)),
        "send_bytes": send_bytes,
        "settings": applied,
        "port": port,
    }
    reopened = bool(zero) and delivered and details["rx_bytes"] == send_bytes \
        and details["rx_bad"] == 0
    frames = [r.frame_no for r in zero][:3] + ([update["frame"]] if update else [])
    m = Measurement(
        name="receiver_window_reopens", dut=dut.name, value=reopened, unit="bool",
        behaviours=["FC-04"], samples=[float(w) for _, w in windows[:100]], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames, console_lines=[link.console],
                          note="frames: the DUT's first closed windows and its window update"),
    )
    related = [
        m.part("receiver_window_closes", bool(zero), "bool",
               note="the DUT advertised less than one full segment while holding"),
        m.part("receiver_window_update", bool(update and update["unprompted"]), "bool",
               note="the DUT's own ACK reopening the window, not an answer to a probe"),
        m.part("receiver_window_shrinks", bool(shrunk), "bool"),
    ]
    return m.model_copy(update={"related": related})


def shrinking_rows(rows: list[TraceRow]) -> list[TraceRow]:
    """The DUT's segments that move its window's right edge (ack + window) left. A stale
    ACK (lower than one already seen, reordered on the way) is not a shrink."""
    out: list[TraceRow] = []
    top_ack = top_edge = -1
    for row in rows:
        if row.rel_ack < top_ack:
            continue
        top_ack = row.rel_ack
        edge = row.rel_ack + row.window_bytes
        if edge < top_edge:
            out.append(row)
        top_edge = max(top_edge, edge)
    return out


def first_update(rows: list[TraceRow], from_frame: int | None, closed_below: int = 1,
                 prompt_ns: int = 5_000_000) -> dict[str, Any] | None:
    """The DUT's first segment opening its closed window (below `closed_below` bytes)
    from capture frame `from_frame` on (after its application reads); unprompted when no
    peer segment came within `prompt_ns` before it (not an answer to a probe)."""
    last_rx_ns = 0
    was_zero = False
    for row in rows:
        if row.direction == "rx":
            last_rx_ns = row.time_ns
            continue
        if row.window_bytes < closed_below:
            was_zero = True
            continue
        if was_zero and from_frame is not None and row.frame_no >= from_frame:
            return {"frame": row.frame_no, "window_bytes": row.window_bytes,
                    "unprompted": row.time_ns - last_rx_ns > prompt_ns,
                    "since_peer_ms": round((row.time_ns - last_rx_ns) / 1e6, 3)}
    return None


__all__ = [
    "measure_flight_window", "measure_receive_window",
    "measure_window_scaling", "measure_zero_window",
]
