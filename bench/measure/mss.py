"""MSS and MTU (MS-01 to MS-04): the MSS the DUT offers for its link MTU, the largest
segment it sends for each MSS the peer offers, and its reaction to an ICMP
fragmentation-needed message (path MTU discovery, RFC 1191).

Every figure depends on the link MTU, the peer's MSS or the ICMP's next-hop MTU, so
each carries `details["context"]`: the names its profile formula reads
(`link_mtu`, `peer_mss`, `peer_timestamps`, `icmp_mtu`). A judge merges it into the
context it passes (tests/lab/test_measure_mss.py does)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure.flows import accept_id, data_from_dut, listening, wait_for
from bench.measure.handshake import CAPTURE, pcap_path, synack_of
from bench.measure.result import Evidence, Measurement, Tolerance
from bench.model import ConnOptions, Peer, Segment
from bench.model.icmp import frag_needed
from firmware_adapters.dut import Dut

PEER_MSS: tuple[int | None, ...] = (536, 1000, 1460, 9000, None)  # None: no MSS option
IP_TCP_HEADERS = 40


@contextmanager
def dut_link_mtu(dut: Dut, mtu: int | None) -> Iterator[int]:
    """Set the DUT's link MTU (`link set mtu=`) for one experiment and restore it.

    Yields the MTU in force (the DUT's own `link` reply when `mtu` is None)."""
    old = int(dut.link()["mtu"])
    if mtu is None or mtu == old:
        yield old
        return
    dut.link_set(mtu=mtu)
    try:
        yield int(dut.link()["mtu"])
    finally:
        dut.link_set(mtu=old)


# ------------------------------------------------------------------- MS-01
def measure_offered_mss(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                        port: int = 7004, link_mtu: int | None = None) -> Measurement:
    """The peer connects to a DUT listener; value = the SYN-ACK's MSS option (bytes).

    `link_mtu` sets the DUT's link MTU for the experiment (restored after)."""
    with dut_link_mtu(dut, link_mtu) as mtu, listening(dut, port, "discard"):
        start = peer.mark()
        conn = peer.connect(dut_ip, port)
        synack = synack_of(peer, start, dut_ip, conn.local[1], port)
        _, line = accept_id(dut, peer, conn)
        conn.abort()
    mss = synack.options.mss
    return Measurement(
        name="offered_mss_bytes", dut=dut.name, value=mss, unit="bytes",
        behaviours=["MS-01"],
        details={"synack_options": list(synack.options.names()),
                 "peer_offered_mss": peer.defaults.mss_bytes, "port": port,
                 "context": {"link_mtu": mtu}},
        evidence=Evidence(pcap=pcap_path(peer), frames=[synack.frame_no],
                          console_lines=[line],
                          note="" if mss is not None else "the SYN-ACK carries no MSS option"),
    )


# ----------------------------------------------------------- MS-02, MS-03
@dataclass
class _Run:
    peer_mss: int | None
    largest: int
    segments: int
    frames: list[int]
    line: str


def measure_largest_segment(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                            port: int = 7005, peer_mss: Sequence[int | None] = PEER_MSS,
                            nbytes: int = 8000, timestamps: bool = False,
                            link_mtu: int | None = None,
                            timeout_s: float = 20.0) -> Measurement:
    """For each MSS the peer offers (None: no MSS option), the peer connects, the DUT
    sends `nbytes`; the figure is the largest TCP payload the DUT sent.

    value: `largest_payload_bytes` for the first offered MSS; related: one
    `largest_payload_bytes` per further MSS (details.peer_mss) and `default_mss_bytes`
    for the SYN without MSS option. The peer offers no timestamps unless `timestamps`,
    so the payload is the whole MSS."""
    runs: list[_Run] = []
    with dut_link_mtu(dut, link_mtu) as mtu, listening(dut, port, "discard"):
        for mss in peer_mss:
            options = ConnOptions(mss_bytes=mss, timestamps=timestamps)
            start = peer.mark()
            conn = peer.connect(dut_ip, port, options=options)
            cid, line = accept_id(dut, peer, conn)
            dut.send(cid, nbytes)
            dut.wait_event("sent", timeout_s, id=str(cid))
            conn.abort()  # a RST frees the DUT's pcb at once (lwIP has only a few)
            data = data_from_dut(peer, start, dut_ip, conn)
            biggest = max(data, key=lambda s: len(s.payload))
            runs.append(_Run(mss, len(biggest.payload), len(data), [biggest.frame_no], line))
    pcap = pcap_path(peer)

    def figure(run: _Run) -> Measurement:
        context: dict[str, Any] = {"link_mtu": mtu, "peer_timestamps": timestamps}
        if run.peer_mss is not None:
            context["peer_mss"] = run.peer_mss
        return Measurement(
            name="largest_payload_bytes" if run.peer_mss is not None else "default_mss_bytes",
            dut=dut.name, value=run.largest, unit="bytes",
            behaviours=["MS-02"] if run.peer_mss is not None else ["MS-03"],
            details={"peer_mss": run.peer_mss, "data_segments": run.segments,
                     "fits_link_mtu": run.largest + IP_TCP_HEADERS <= mtu,
                     "nbytes": nbytes, "port": port, "context": context},
            evidence=Evidence(pcap=pcap, frames=run.frames, console_lines=[run.line],
                              note=f"peer MSS {run.peer_mss or 'absent'}"),
        )

    figures = [figure(run) for run in runs]
    first = next((i for i, f in enumerate(figures) if f.name == "largest_payload_bytes"), 0)
    main = figures[first]
    return main.model_copy(update={
        "samples": [float(r.largest) for r in runs],
        "details": {**main.details,
                    "largest_by_peer_mss": {str(r.peer_mss): r.largest for r in runs}},
        "related": figures[:first] + figures[first + 1:],
    })


# ------------------------------------------------------------------- MS-04
def measure_pmtud(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path, port: int = 7006,
                  next_hop_mtu: int = 1280, nbytes: int = 40000, hold_s: float = 0.5,
                  timeout_s: float = 30.0) -> Measurement:
    """The DUT sends bulk data; the peer holds its ACKs, so the first data segment stays
    unacknowledged, and answers it as a router would: ICMP fragmentation needed
    (type 3 code 4, next-hop MTU `next_hop_mtu`) quoting that segment. After `hold_s`
    the peer ACKs again and the transfer ends.

    value = the largest payload from the DUT's reaction on (its first smaller resend;
    without one, from the ICMP on) (`pmtud_segment_after_bytes`); related:
    `pmtud_df_set`, `pmtud_segment_before_bytes` and, when the DUT resent in smaller
    segments, `pmtud_reaction_ms` (ICMP sent -> first smaller resend, kernel stamps).

    A Linux DUT keeps the reduced path MTU towards the peer for net.ipv4.route.mtu_expires
    (600 s); it ends with `link set mtu=` at the link's MTU, which forgets it."""
    with listening(dut, port, "discard"):
        start = peer.mark()
        conn = peer.connect(dut_ip, port, options=ConnOptions(timestamps=False))
        cid, line = accept_id(dut, peer, conn)
        conn.hold_acks(True)
        dut.send(cid, nbytes)
        data = wait_for(lambda: data_from_dut(peer, start, dut_ip, conn), 5.0)
        if not data:
            raise RuntimeError(f"{dut.name} sent no data within 5 s of 'send {cid}'")
        first = data[0]
        icmp_tx = peer.send_ip(frag_needed(first, next_hop_mtu, peer.ip),
                               f"ICMP frag needed, MTU {next_hop_mtu}")
        time.sleep(hold_s)  # the ICMP's effect shows while nothing is acknowledged
        conn.hold_acks(False)
        sent = dut.wait_event("sent", timeout_s, id=str(cid))
        conn.abort()
        # a `link set mtu=` makes the DUT forget the path MTU it learned (Linux: the route
        # cache is flushed), so the next experiment sees the link's own MTU again
        dut.link_set(mtu=int(dut.link()["mtu"]))
    data = data_from_dut(peer, start, dut_ip, conn)
    before = [s for s in data if s.ts_ns < icmp_tx.ts_ns]
    after_icmp = [s for s in data if s.ts_ns > icmp_tx.ts_ns]
    sent_before_end = max(_end(s) for s in before)
    resend = next((s for s in after_icmp if _ip_len(s) <= next_hop_mtu
                   and _seq_before(s.seq, sent_before_end)), None)
    # Segments between the ICMP and the DUT's first smaller resend were already on their
    # way (a tail loss probe that left as the ICMP arrived): the DUT had not yet applied
    # the new MTU to them. What it sends from its reaction on is what it learned.
    after = [s for s in after_icmp if resend is None or s.ts_ns >= resend.ts_ns]
    in_flight = [s for s in after_icmp if resend is not None and s.ts_ns < resend.ts_ns]
    largest_before = max(len(s.payload) for s in before)
    largest_after = max((len(s.payload) for s in after), default=None)
    context = {"peer_mss": 1460, "peer_timestamps": False, "icmp_mtu": next_hop_mtu,
               "link_mtu": int(dut.link()["mtu"])}
    details: dict[str, Any] = {
        "df_set": first.df,
        "next_hop_mtu": next_hop_mtu,
        "icmp_frame": icmp_tx.frame_no,
        "quoted_seq": first.seq,
        "segments_before": len(before),
        "segments_after": len(after),
        "in_flight_frames": [s.frame_no for s in in_flight],
        "largest_before_bytes": largest_before,
        "largest_after_bytes": largest_after,
        "resend_frame": resend.frame_no if resend else None,
        "reaction_ms": round((resend.ts_ns - icmp_tx.ts_ns) / 1e6, 3) if resend else None,
        "context": context,
        "port": port,
    }
    m = Measurement(
        name="pmtud_segment_after_bytes", dut=dut.name, value=largest_after, unit="bytes",
        behaviours=["MS-04"], samples=[float(len(s.payload)) for s in after], details=details,
        evidence=Evidence(pcap=pcap_path(peer),
                          frames=[first.frame_no, icmp_tx.frame_no]
                          + ([resend.frame_no] if resend else []),
                          console_lines=[line, sent.raw],
                          note="" if resend else "no smaller resend after the ICMP"),
    )
    related = [m.part("pmtud_df_set", first.df, "bool", context=context),
               m.part("pmtud_segment_before_bytes", largest_before, "bytes",
                      context=context)]
    if resend is not None:
        related.append(m.part("pmtud_reaction_ms", details["reaction_ms"], "ms",
                              Tolerance(abs=CAPTURE.abs * 1000, why=CAPTURE.why),
                              context=context))
    return m.model_copy(update={"related": related})


def _end(s: Segment) -> int:
    return (s.seq + len(s.payload)) & 0xFFFFFFFF


def _seq_before(a: int, b: int) -> bool:
    return (a - b) & 0x80000000 != 0


def _ip_len(s: Segment) -> int:
    return 20 + (s.data_offset or 20) + len(s.payload)
