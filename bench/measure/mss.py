"""The MSS the DUT offers in its SYN-ACK (MS-01)."""

from __future__ import annotations

from pathlib import Path

from bench.measure.handshake import pcap_path, synack_of
from bench.measure.result import Evidence, Measurement
from bench.model import Peer
from firmware_adapters.dut import Dut


def measure_offered_mss(dut: Dut, peer: Peer, dut_ip: str, pcap_dir: Path,
                        port: int = 7004) -> Measurement:
    """The peer connects to a DUT listener; value = the SYN-ACK's MSS option (bytes)."""
    lid = dut.listen(port, mode="discard")
    try:
        start = peer.mark()
        conn = peer.connect(dut_ip, port)
        synack = synack_of(peer, start, dut_ip, conn.local[1], port)
        accepted = dut.wait_event("accepted", 5, remote=f"{peer.ip}:{conn.local[1]}")
        conn.abort()
    finally:
        dut.unlisten(lid)
    mss = synack.options.mss
    return Measurement(
        name="offered_mss_bytes", dut=dut.name, value=mss, unit="bytes",
        behaviours=["MS-01"],
        details={"synack_options": list(synack.options.names()),
                 "peer_offered_mss": peer.defaults.mss_bytes, "port": port},
        evidence=Evidence(pcap=pcap_path(peer), frames=[synack.frame_no],
                          console_lines=[accepted.raw],
                          note="" if mss is not None else "the SYN-ACK carries no MSS option"),
    )
