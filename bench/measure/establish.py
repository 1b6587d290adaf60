"""The rest of connection establishment, measured on the wire (HS-01 to HS-05, HS-09,
HS-10, HS-13, HS-14); retries, ISNs and closed ports are in bench.measure.handshake.

Each `measure_*` reads as the experiment: set up, provoke, observe, return figures.
Times come from the kernel timestamps of the peer's capture. The peer plays its part
either as the reference TCP model (peer.connect / peer.listen) or segment by segment
(peer.inject from a blackholed port, so the model itself never answers). Nothing here
judges: bench.verdict compares the figures with the DUT's profile.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure.handshake import (
    blackholed,
    dut_settings,
    free_port,
    from_dut,
    pcap_path,
    seconds,
)
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import Connection, Peer, Segment
from bench.model.segment import ACK, RST, SYN
from firmware_adapters.dut import Dut
from firmware_adapters.errors import DutError, DutTimeout

MSS_1460 = b"\x02\x04\x05\xb4"
TFO = 34  # RFC 7413 Fast Open option kind; length 2 = a cookie request
TFO_COOKIE_REQUEST = MSS_1460 + bytes((TFO, 2)) + b"\x01\x01"
CAPTURE_MS = Tolerance(abs=1.0, why="kernel capture timestamps (+-1 ms)")
PATTERN_MOD = 251


# ----------------------------------------------------------------------- helpers
def pattern(offset: int, length: int) -> bytes:
    """The console protocol's stream pattern byte[k] = k mod 251, from `offset`."""
    return bytes((offset + i) % PATTERN_MOD for i in range(length))


def is_syn(s: Segment) -> bool:
    return s.flags & (SYN | ACK | RST) == SYN


def is_synack(s: Segment) -> bool:
    return s.flags & (SYN | ACK | RST) == SYN | ACK


def flow_from(lport: int, rport: int) -> Callable[[Segment], bool]:
    """Segments the DUT sends from its port `lport` to the peer's port `rport`."""
    return lambda s: s.sport == lport and s.dport == rport


def wait_from_dut(peer: Peer, since: int, dut_ip: str, keep: Callable[[Segment], bool],
                  timeout_s: float = 2.0) -> Segment | None:
    """The first segment from the DUT (logged from `since`) that `keep` accepts."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = from_dut(peer, since, dut_ip, keep)
        if found or time.monotonic() >= deadline:
            return found[0] if found else None
        time.sleep(0.01)


def wait_rx(dut: Dut, cid: int, nbytes: int, timeout_s: float = 5.0) -> dict[str, str]:
    """The DUT's `stat` once it has delivered `nbytes` to its application (or timed out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        stat = dut.stat(cid)
        if int(stat.get("rx_bytes", "0")) >= nbytes or time.monotonic() >= deadline:
            return stat
        time.sleep(0.05)


def dut_stat(dut: Dut, cid: int) -> dict[str, str]:
    """The DUT's `stat`, or state CLOSED (with the error) when it no longer knows `cid`."""
    try:
        return dut.stat(cid)
    except DutError as exc:
        return {"state": "CLOSED", "error": str(exc)}


def reply_kind(seg: Segment | None) -> str:
    """How the DUT answered: 'rst', 'synack', 'ack' or 'none'."""
    if seg is None:
        return "none"
    if seg.flags & RST:
        return "rst"
    return "synack" if is_synack(seg) else "ack" if seg.flags & ACK else seg.flags_str


def exchange_data(dut: Dut, cid: int, conn: Connection, nbytes: int) -> dict[str, Any]:
    """nbytes each way: the peer's pattern checked by the DUT, the DUT's by the peer."""
    conn.send(pattern(0, nbytes))
    stat = wait_rx(dut, cid, nbytes)
    dut.send(cid, nbytes)
    got = conn.recv_exactly(nbytes, timeout_s=5.0)
    return {"state": stat.get("state"), "rx_bytes": int(stat.get("rx_bytes", "0")),
            "rx_bad": int(stat.get("rx_bad", "0")), "peer_rx_ok": got == pattern(0, nbytes)}


def open_half(peer: Peer, dut_ip: str, port: int, sport: int,
              options_raw: bytes = MSS_1460) -> tuple[Segment, Segment | None]:
    """The peer's SYN from `sport` (blackholed by the caller) and the DUT's SYN-ACK."""
    start = peer.mark()
    syn = peer.inject(dut_ip, port, sport, "S", secrets.randbits(32), options_raw=options_raw)
    synack = wait_from_dut(peer, start, dut_ip,
                           lambda s: flow_from(port, sport)(s) and is_synack(s))
    return syn, synack


# ------------------------------------------------------ HS-01..HS-04 the handshake
def measure_handshake(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                      port: int = 7010, data_bytes: int = 1000,
                      settings: dict[str, Any] | None = None) -> Measurement:
    """Both roles: the DUT connects to a peer listener, then the peer to a DUT listener.

    Checks every handshake segment's flags, numbers and payload, both ESTABLISHED (the
    DUT's `stat`, the model's state) and data both ways. value = the opener's handshake
    RTT with the DUT listening (the peer's SYN to the DUT's SYN-ACK, kernel timestamps);
    related: what the DUT offers in its SYN (window scale, SACK, timestamps, window) and
    the MSS of its SYN-ACK."""
    checks: dict[str, bool] = {}
    lines: list[str] = []
    with dut_settings(dut, settings) as applied:
        # DUT as client (HS-01): its SYN, the model's SYN-ACK, its ACK
        peer.listen(port)
        try:
            start = peer.mark()
            cid = dut.connect(peer.ip, port, mode="check")
            lines.append(dut.wait_event("connected", 5, id=str(cid)).raw)
            conn = peer.accept(port, 5)
            data_c = exchange_data(dut, cid, conn, data_bytes)
            dut.abort(cid)
        finally:
            peer.unlisten(port)
        lport = conn.remote[1]
        c_segs = [s for s in peer.segments(start) if port in (s.sport, s.dport)
                  and lport in (s.sport, s.dport)]
        c_syn = next(s for s in c_segs if s.direction == "in" and is_syn(s))
        c_synack = next(s for s in c_segs if s.direction == "out" and is_synack(s))
        c_ack = next(s for s in c_segs if s.direction == "in" and s.flags & ACK
                     and s.ts_ns > c_synack.ts_ns)
        checks |= {
            "client_syn_flags": c_syn.flags_str == "S" and not c_syn.payload,
            "client_ack_numbers": (c_ack.seq == (c_syn.seq + 1) & 0xFFFFFFFF
                                   and c_ack.ack == (c_synack.seq + 1) & 0xFFFFFFFF),
            "client_ack_no_syn": not c_ack.flags & (SYN | RST),
            "client_established": data_c["state"] == "ESTABLISHED",
            "client_data_both_ways": (data_c["rx_bytes"] == data_bytes
                                      and data_c["rx_bad"] == 0 and data_c["peer_rx_ok"]),
        }

        # DUT as server (HS-02, HS-03): the model's SYN, its SYN-ACK, the model's ACK
        lid = dut.listen(port, mode="check")
        try:
            start = peer.mark()
            conn = peer.connect(dut_ip, port)
            sport = conn.local[1]
            accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{sport}")
            lines.append(accepted.raw)
            sid = int(accepted.fields["id"])
            data_s = exchange_data(dut, sid, conn, data_bytes)
            dut.abort(sid)
        finally:
            dut.unlisten(lid)
        s_segs = [s for s in peer.segments(start) if sport in (s.sport, s.dport)]
        s_syn = next(s for s in s_segs if s.direction == "out" and is_syn(s))
        s_synack = next(s for s in s_segs if s.direction == "in" and is_synack(s))
        s_ack = next(s for s in s_segs if s.direction == "out" and s.ts_ns > s_synack.ts_ns)
        checks |= {
            "server_synack_ack": s_synack.ack == (s_syn.seq + 1) & 0xFFFFFFFF,
            "server_synack_no_payload": not s_synack.payload,
            "server_third_ack_numbers": (s_ack.seq == (s_syn.seq + 1) & 0xFFFFFFFF
                                         and s_ack.ack == (s_synack.seq + 1) & 0xFFFFFFFF),
            "server_established": data_s["state"] == "ESTABLISHED",
            "server_data_both_ways": (data_s["rx_bytes"] == data_bytes
                                      and data_s["rx_bad"] == 0 and data_s["peer_rx_ok"]),
        }

    rtt_ms = round((s_synack.ts_ns - s_syn.ts_ns) / 1e6, 3)
    offered = c_syn.options
    details: dict[str, Any] = {
        "checks": checks,
        "failed_checks": [k for k, ok in checks.items() if not ok],
        "rtt_server_ms": rtt_ms,
        "rtt_client_ms": round((c_ack.ts_ns - c_synack.ts_ns) / 1e6, 3),
        "rtt_basis": "server: the peer's SYN to the DUT's SYN-ACK; client: the peer's "
                     "SYN-ACK to the DUT's ACK (kernel timestamps at the peer)",
        "syn_options": list(offered.names()),
        "synack_options": list(s_synack.options.names()),
        "peer_offered": list(s_syn.options.names()),
        "syn_wscale": offered.wscale,
        "synack_wscale": s_synack.options.wscale,
        "syn_mss": offered.mss,
        "synack_mss": s_synack.options.mss,
        "syn_window": c_syn.window,
        "synack_window": s_synack.window,
        "client": data_c,
        "server": data_s,
        "settings": applied,
        "port": port,
    }
    frames = [c_syn.frame_no, c_synack.frame_no, c_ack.frame_no,
              s_syn.frame_no, s_synack.frame_no, s_ack.frame_no]
    m = Measurement(
        name="handshake_rtt_ms", dut=dut.name, value=rtt_ms, unit="ms",
        behaviours=["HS-01", "HS-02", "HS-03", "HS-04"], samples=[rtt_ms, details["rtt_client_ms"]],
        tolerance=CAPTURE_MS, details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames, console_lines=lines),
    )
    return m.model_copy(update={"related": [
        m.part("handshake_conforms", all(checks.values()), "bool",
               note="failed: " + ", ".join(details["failed_checks"])
               if details["failed_checks"] else ""),
        m.part("window_scale", offered.wscale is not None, "bool"),
        m.part("window_scale_shift", offered.wscale, "count"),
        m.part("sack_permitted", offered.sack_permitted, "bool"),
        m.part("timestamps", offered.timestamp is not None, "bool"),
        m.part("syn_window_bytes", c_syn.window, "bytes"),
        m.part("offered_mss_bytes", s_synack.options.mss, "bytes"),
    ]})


# ------------------------------------------------------- HS-05 data on the third segment
def measure_third_segment_data(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                               port: int = 7011, data_bytes: int = 100) -> Measurement:
    """The peer's third handshake segment (ACK of the SYN-ACK) carries `data_bytes` of
    the pattern; value = bytes the DUT delivered to its application (`stat` rx_bytes)."""
    sport = free_port()
    lid = dut.listen(port, mode="check")
    try:
        with blackholed(peer, {sport}):
            syn, synack = open_half(peer, dut_ip, port, sport)
            if synack is None:
                raise RuntimeError(f"no SYN-ACK from {dut_ip}:{port}")
            start = peer.mark()
            end = (syn.seq + 1 + data_bytes) & 0xFFFFFFFF
            third = peer.inject(dut_ip, port, sport, "PA", syn.seq + 1, synack.seq + 1,
                                payload=pattern(0, data_bytes))
            acked = wait_from_dut(peer, start, dut_ip,
                                  lambda s: flow_from(port, sport)(s) and s.ack == end)
            try:
                accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{sport}")
            except DutTimeout:
                accepted = None
            stat = wait_rx(dut, int(accepted.fields["id"]), data_bytes) if accepted else {}
            if accepted is not None:
                dut.abort(int(accepted.fields["id"]))
            else:
                peer.inject(dut_ip, port, sport, "R", end)
    finally:
        dut.unlisten(lid)
    delivered = int(stat.get("rx_bytes", "0"))
    details: dict[str, Any] = {
        "sent_bytes": data_bytes,
        "delivered_bytes": delivered,
        "context": {"third_segment_sent_bytes": data_bytes},  # what the profile needs
        "rx_bad": int(stat.get("rx_bad", "0")),
        "state": stat.get("state"),
        "accepted": accepted is not None,
        "data_acked": acked is not None,
        "ack_delay_ms": round((acked.ts_ns - third.ts_ns) / 1e6, 3) if acked else None,
        "port": port,
    }
    m = Measurement(
        name="third_segment_data_bytes", dut=dut.name, value=delivered, unit="bytes",
        behaviours=["HS-05"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[s.frame_no for s in (syn, synack, third, acked) if s],
                          console_lines=[accepted.raw] if accepted else [],
                          note="" if accepted else "the DUT announced no accepted connection"),
    )
    ok = delivered == data_bytes and details["rx_bad"] == 0 and acked is not None
    return m.model_copy(update={"related": [m.part("third_segment_data_accepted", ok, "bool")]})


# ------------------------------------------ HS-09 stale SYN-ACK, half-open state freed
def measure_stale_synack(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                         port: int = 7012, closed_port: int = 7013,
                         probe_after_s: tuple[float, ...] = (0.05, 0.5, 2.0)) -> Measurement:
    """Two halves of the confused-opener story (RFC 9293 3.5, figure 9).

    1. The peer sends SYN-ACKs for connections the DUT does not know, to a listening and
       to a closed port: value = every one answered by a RST whose seq is the SYN-ACK's
       ACK (and no ACK bit).
    2. The peer opens a half-open connection on a DUT listener and resets it as an
       opener would that does not know the SYN-ACK (seq = SYN-ACK's ack). A probe is the
       peer's SYN sent again, `probe_after_s` after the RST: a half-open entry
       retransmits its SYN-ACK (same ISN), a freed one answers with a new ISN."""
    lid = dut.listen(port, mode="discard")
    stale: dict[str, dict[str, Any]] = {}
    frames: list[int] = []
    try:
        for case, dport in (("listening", port), ("closed", closed_port)):
            sport = free_port()
            with blackholed(peer, {sport}):
                start = peer.mark()
                ack = secrets.randbits(32)
                sa = peer.inject(dut_ip, dport, sport, "SA", secrets.randbits(32), ack,
                                 options_raw=MSS_1460)
                rst = wait_from_dut(peer, start, dut_ip, flow_from(dport, sport))
            stale[case] = {
                "reply": reply_kind(rst),
                "rst_seq_ok": bool(rst and rst.flags & RST and rst.seq == ack),
                "rst_has_ack": bool(rst and rst.flags & ACK),
                "delay_ms": round((rst.ts_ns - sa.ts_ns) / 1e6, 3) if rst else None,
            }
            frames += [sa.frame_no] + ([rst.frame_no] if rst else [])

        sport = free_port()
        probes: list[dict[str, Any]] = []
        with blackholed(peer, {sport}):
            syn, synack = open_half(peer, dut_ip, port, sport)
            if synack is None:
                raise RuntimeError(f"no SYN-ACK from {dut_ip}:{port}")
            reset = peer.inject(dut_ip, port, sport, "R", syn.seq + 1)
            frames += [syn.frame_no, synack.frame_no, reset.frame_no]
            freed_at: float | None = None
            answers: set[int] = set()
            remote = f"{peer.ip}:{sport}"
            for after_s in probe_after_s:
                time.sleep(max(0.0, reset.ts_ns / 1e9 + after_s - time.time()))
                # A stack whose ISN does not move between the two SYNs (lwIP's counter
                # while its tick is idle) answers a freed entry with the same ISN, so
                # the DUT's own list says whether the half-open entry is still there.
                listed = [c.state for c in dut.conns() if c.remote == remote]
                start = peer.mark()
                probe = peer.inject(dut_ip, port, sport, "S", syn.seq, options_raw=MSS_1460)
                answer = wait_from_dut(peer, start, dut_ip,
                                       lambda s: flow_from(port, sport)(s) and is_synack(s))
                offset = seconds(reset.ts_ns, probe.ts_ns)
                same_isn = answer is not None and answer.seq == synack.seq
                freed = answer is not None and (not same_isn or not listed)
                probes.append({"after_s": offset, "answer": reply_kind(answer),
                               "same_isn": same_isn, "listed_before": listed,
                               "freed": freed})
                frames += [probe.frame_no] + ([answer.frame_no] if answer else [])
                if answer is not None:
                    answers.add(answer.frame_no)
                if answer is not None:
                    peer.inject(dut_ip, port, sport, "R", syn.seq + 1)  # free it again
                if freed:
                    freed_at = offset
                    break
        retransmitted = [s.frame_no for s in from_dut(peer, 0, dut_ip, flow_from(port, sport))
                         if is_synack(s) and s.seq == synack.seq and s.ts_ns > reset.ts_ns
                         and s.frame_no not in answers]  # not an answer to a probe
    finally:
        dut.unlisten(lid)
    all_rst = all(c["rst_seq_ok"] for c in stale.values())  # an extra ACK bit is harmless
    details: dict[str, Any] = {
        "stale_synack": stale,
        "probes": probes,
        "synack_rtx_after_rst_frames": retransmitted,
        "port": port,
        "closed_port": closed_port,
    }
    m = Measurement(
        name="rst_on_stale_synack", dut=dut.name, value=all_rst, unit="bool",
        behaviours=["HS-09"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=frames),
    )
    prev = probes[-2]["after_s"] if len(probes) > 1 else 0.0
    freed_s = m.part("half_open_freed_s", freed_at, "s",
                     Tolerance(abs=round((freed_at or 0) - prev, 6),
                               why="freed between the previous probe (or the RST) and this one"),
                     note="" if freed_at is not None else "never freed within the probes")
    return m.model_copy(update={"related": [
        m.part("half_open_freed_on_rst", freed_at is not None and not retransmitted, "bool"),
        freed_s,
    ]})


# ------------------------------------------------------ HS-10 unacceptable segments
def measure_unacceptable_seq(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                             port: int = 7014, data_bytes: int = 1000,
                             offset: int = 1 << 30) -> Measurement:
    """ESTABLISHED: the peer sends 10 bytes `offset` beyond its next sequence number;
    value = the DUT's reply ('ack', 'rst' or 'none'); then data both ways must still
    be intact. SYN-RCVD: the peer's ACK acknowledges more than the SYN-ACK; related =
    the DUT's reply to that (RFC 9293 3.10.7.4: RST with seq = SEG.ACK)."""
    lid = dut.listen(port, mode="check")
    try:
        conn = peer.connect(dut_ip, port)
        lport = conn.local[1]
        accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{lport}")
        cid = int(accepted.fields["id"])
        start = peer.mark()
        bad = conn.inject("PA", seq=conn.info().snd_nxt + offset, payload=b"\xff" * 10)
        reply = wait_from_dut(peer, start, dut_ip, flow_from(port, lport), timeout_s=1.0)
        after = exchange_data(dut, cid, conn, data_bytes)
        dut.abort(cid)

        sport = free_port()
        with blackholed(peer, {sport}):
            syn, synack = open_half(peer, dut_ip, port, sport)
            if synack is None:
                raise RuntimeError(f"no SYN-ACK from {dut_ip}:{port}")
            start = peer.mark()
            bad_ack = (synack.seq + 1 + 100_000) & 0xFFFFFFFF
            wrong = peer.inject(dut_ip, port, sport, "A", syn.seq + 1, bad_ack)
            answer = wait_from_dut(peer, start, dut_ip, flow_from(port, sport), timeout_s=1.0)
            peer.inject(dut_ip, port, sport, "R", syn.seq + 1)  # free the half-open entry
    finally:
        dut.unlisten(lid)
    kind = reply_kind(reply)
    acks_right = bool(reply and kind == "ack" and reply.ack == (bad.seq - offset) & 0xFFFFFFFF)
    conn_ok = (after["rx_bytes"] == data_bytes and after["rx_bad"] == 0 and after["peer_rx_ok"]
               and after["state"] == "ESTABLISHED")
    synrcvd_kind = reply_kind(answer)
    details: dict[str, Any] = {
        "reply_flags": reply.flags_str if reply else None,
        "reply_acks_rcv_nxt": acks_right,
        "reply_delay_ms": round((reply.ts_ns - bad.ts_ns) / 1e6, 3) if reply else None,
        "after": after,
        "synrcvd_reply_flags": answer.flags_str if answer else None,
        "synrcvd_rst_seq_ok": bool(answer and answer.flags & RST and answer.seq == bad_ack),
        "offset": offset,
        "port": port,
    }
    m = Measurement(
        name="unacceptable_seq_reply", dut=dut.name, value=kind, unit="kind",
        behaviours=["HS-10"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[s.frame_no for s in (bad, reply, syn, synack, wrong, answer)
                                  if s],
                          console_lines=[accepted.raw]),
    )
    return m.model_copy(update={"related": [
        m.part("unacceptable_seq_conn_ok", conn_ok, "bool"),
        m.part("unacceptable_ack_synrcvd_reply", synrcvd_kind, "kind"),
    ]})


# --------------------------------------------------------------- HS-13 TCP Fast Open
def measure_tfo(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path, port: int = 7015,
                settings: dict[str, Any] | None = None) -> Measurement:
    """The peer's SYN asks for a Fast Open cookie (option 34, length 2, RFC 7413 4.1.1);
    value = the DUT's SYN-ACK returns a cookie. `settings` apply before the listener
    opens (Linux reads tcp_fastopen's server bits at listen())."""
    sport = free_port()
    with dut_settings(dut, settings) as applied:
        lid = dut.listen(port, mode="discard")
        try:
            with blackholed(peer, {sport}):
                syn, synack = open_half(peer, dut_ip, port, sport, TFO_COOKIE_REQUEST)
                peer.inject(dut_ip, port, sport, "R", syn.seq + 1)
        finally:
            dut.unlisten(lid)
    cookie = next((body for kind, body in synack.options.others if kind == TFO),
                  None) if synack else None
    details: dict[str, Any] = {
        "synack_options": list(synack.options.names()) if synack else None,
        "cookie_hex": cookie.hex() if cookie else None,
        "cookie_bytes": len(cookie) if cookie is not None else 0,
        "settings": applied,
        "port": port,
    }
    return Measurement(
        name="tfo_supported", dut=dut.name, value=bool(cookie and len(cookie) >= 4),
        unit="bool", behaviours=["HS-13"], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[syn.frame_no] + ([synack.frame_no] if synack else []),
                          note="" if synack else "no SYN-ACK"),
    )


# ------------------------------------------------------------ HS-14 simultaneous open
def measure_simultaneous_open(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                              timeout_s: float = 10.0) -> Measurement:
    """The DUT connects from a known port to a peer port where nobody answers; once its
    SYN is on the wire the model opens actively towards that DUT port (crossing SYNs,
    RFC 9293 figure 8). value = the DUT's state at the end; related = whether the DUT
    answered the crossing SYN with a SYN-ACK (SYN_SENT -> SYN_RECEIVED)."""
    lport, pport = free_port(), free_port()
    lines: list[str] = []
    with blackholed(peer, {pport}):  # the DUT's first SYN gets no SYN-ACK, no RST
        start = peer.mark()
        cid = dut.connect(peer.ip, pport, lport=lport)
        dut_syn = wait_from_dut(peer, start, dut_ip,
                                lambda s: flow_from(lport, pport)(s) and is_syn(s))
        conn = peer.connect(dut_ip, lport, local_port=pport, wait=False)
        try:
            conn.wait_state("ESTABLISHED", timeout_s)
            lines.append(dut.wait_event("connected", 5, id=str(cid)).raw)
        except (TimeoutError, DutTimeout, RuntimeError) as exc:
            lines.append(f"# {type(exc).__name__}: {exc}")
        stat = dut_stat(dut, cid)
        if stat.get("state") not in (None, "CLOSED"):
            dut.abort(cid)
        conn.abort()
    segs = [s for s in peer.segments(start) if {s.sport, s.dport} == {lport, pport}]
    peer_syn = next((s for s in segs if s.direction == "out" and is_syn(s)), None)
    synacks = [s for s in segs if s.direction == "in" and is_synack(s)]
    answered = [s for s in synacks if dut_syn and peer_syn and s.seq == dut_syn.seq
                and s.ack == (peer_syn.seq + 1) & 0xFFFFFFFF]
    first_answer = answered[0] if answered else None
    dut_syns = [s for s in segs if s.direction == "in" and is_syn(s)]
    peer_synack = next((s for s in segs if s.direction == "out" and is_synack(s)), None)
    details: dict[str, Any] = {
        "dut_stat_state": stat.get("state"),
        "peer_history": [str(h) for h in conn.info().history],
        "dut_syns": len(dut_syns),
        "dut_synack_to_crossing_syn": first_answer is not None,
        "synack_delay_ms": (round((first_answer.ts_ns - peer_syn.ts_ns) / 1e6, 3)
                            if first_answer and peer_syn else None),
        "peer_sent_synack": peer_synack is not None,
        "path": ("the DUT answered the crossing SYN with SYN-ACK (SYN_SENT -> SYN_RECEIVED)"
                 if first_answer else
                 "the DUT ignored the crossing SYN; it completed as a plain opener when the "
                 "model answered its retransmitted SYN" if peer_synack else "no handshake"),
        "lport": lport,
        "peer_port": pport,
    }
    m = Measurement(
        name="simultaneous_open_state", dut=dut.name, value=stat.get("state"), unit="state",
        behaviours=["HS-14"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=[s.frame_no for s in segs],
                          console_lines=lines),
    )
    return m.model_copy(update={"related": [
        m.part("simultaneous_open_synack", first_answer is not None, "bool"),
    ]})
