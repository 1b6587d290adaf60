"""Resets (RS-01, RS-02): how the DUT takes a RST the peer injects at chosen sequence
numbers (RFC 9293 3.10.7.4 with RFC 5961 3.2), and whether its application's abort
puts a RST on the wire."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.measure.flows import accept_id, listening, on_conn, wait_for
from bench.measure.handshake import pcap_path
from bench.measure.result import Evidence, Measurement
from bench.model import ConnOptions, Peer, Segment
from bench.model.segment import ACK, RST
from firmware_adapters.dut import Dut
from firmware_adapters.errors import DutRejected, DutTimeout

OUT_OF_WINDOW = 1 << 30  # far beyond any receive window the DUT can offer


def _alive(dut: Dut, cid: int) -> str | None:
    """The DUT's state of connection `cid`, or None when it no longer has it."""
    try:
        return dut.stat(cid).get("state")
    except DutRejected:
        return None


# --------------------------------------------------------------------- RS-01
def measure_rst_handling(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                         port: int = 7020, inexact_offset: int = 100,
                         wait_s: float = 0.6) -> Measurement:
    """On one established connection the peer injects three RSTs, each followed by a
    look at the wire for `wait_s` and the DUT's `stat`:

    1. out of window (RCV.NXT + 2**30): RFC 5961 3.2 says drop it silently;
    2. in window but not RCV.NXT (+`inexact_offset`): a challenge ACK, no abort;
    3. exactly RCV.NXT: the connection is reset.

    value `rst_in_window_aborts` (3); related `rst_out_of_window_ignored` (1: still
    established, nothing sent) and `rst_challenge_ack` (2: an ACK of RCV.NXT, still
    established)."""
    with listening(dut, port, "discard"):
        conn = peer.connect(dut_ip, port, options=ConnOptions(timestamps=False))
        cid, line = accept_id(dut, peer, conn)
        nxt = conn.info().snd_nxt  # the DUT's RCV.NXT, relative to the peer's ISN
        probes: dict[str, tuple[Segment, list[Segment], str | None]] = {}
        for case, seq in (("out_of_window", nxt + OUT_OF_WINDOW),
                          ("in_window_inexact", nxt + inexact_offset),
                          ("exact", nxt)):
            start = peer.mark()
            rst = conn.inject("R", seq=seq)
            time.sleep(wait_s)  # a challenge ACK comes at once; give the stack time
            probes[case] = (rst, on_conn(peer, start, dut_ip, conn), _alive(dut, cid))
        error = _error_event(dut, cid)
        conn.abort()
    rcv_nxt = probes["exact"][0].seq

    def challenge(replies: list[Segment]) -> bool:
        return any(s.flags & ACK and not s.flags & RST and s.ack == rcv_nxt
                   for s in replies)

    oow_rst, oow_replies, oow_state = probes["out_of_window"]
    _, inexact_replies, inexact_state = probes["in_window_inexact"]
    exact_rst, _, exact_state = probes["exact"]
    details: dict[str, Any] = {
        case: {"rst_frame": rst.frame_no, "replies": [s.flags_str for s in replies],
               "state_after": state or "gone"}
        for case, (rst, replies, state) in probes.items()}
    details.update({"error_event": error, "inexact_offset": inexact_offset, "port": port})
    frames = [p[0].frame_no for p in probes.values()] + [
        s.frame_no for p in probes.values() for s in p[1]]
    lines = [line] + ([error] if error else [])
    m = Measurement(
        name="rst_in_window_aborts", dut=dut.name,
        value=exact_state is None and inexact_state == "ESTABLISHED",
        unit="bool", behaviours=["RS-01"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=sorted(frames), console_lines=lines),
    )
    return m.model_copy(update={"related": [
        m.part("rst_out_of_window_ignored",
               oow_state == "ESTABLISHED" and not oow_replies, "bool"),
        m.part("rst_challenge_ack",
               challenge(inexact_replies) and inexact_state == "ESTABLISHED", "bool"),
    ]})


def _error_event(dut: Dut, cid: int) -> str | None:
    try:
        return dut.wait_event("error", 1.0, id=str(cid)).raw
    except DutTimeout:
        return None


# --------------------------------------------------------------------- RS-02
def measure_abort_rst(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                      port: int = 7021, wait_s: float = 2.0) -> Measurement:
    """The peer connects; the DUT's application aborts (`abort <id>`). value
    `abort_sends_rst`: a RST from the DUT on that connection within `wait_s`; details
    say whether its sequence number is the one the peer expects (its RCV.NXT)."""
    with listening(dut, port, "discard"):
        conn = peer.connect(dut_ip, port)
        cid, line = accept_id(dut, peer, conn)
        expected = conn.info().rcv_nxt  # relative to the DUT's ISN
        start = peer.mark()
        dut.abort(cid)
        rsts = wait_for(lambda: on_conn(peer, start, dut_ip, conn,
                                        lambda s: bool(s.flags & RST)), wait_s)
        state = conn.state
        conn.abort()
    rst = rsts[0] if rsts else None
    details: dict[str, Any] = {
        "rst_flags": rst.flags_str if rst else None,
        "rst_seq_ok": bool(rst and (rst.seq - conn.irs) & 0xFFFFFFFF == expected),
        "peer_state_after": str(state),
        "port": port,
    }
    return Measurement(
        name="abort_sends_rst", dut=dut.name, value=rst is not None, unit="bool",
        behaviours=["RS-02"], details=details,
        evidence=Evidence(pcap=pcap_path(peer), frames=[s.frame_no for s in rsts],
                          console_lines=[line, f"abort {cid}"],
                          note="" if rst else f"no RST within {wait_s} s of the abort"),
    )
