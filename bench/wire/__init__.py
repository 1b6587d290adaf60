"""Packet I/O on a lab interface: AF_PACKET, kernel timestamps, BPF, ARP, pcapng."""

from bench.wire.arp import ArpResponder
from bench.wire.capture import Capture, Captured
from bench.wire.link import Link, RxFrame, TxFrame
from bench.wire.loop import IoLoop, LoopTuning, Timer
from bench.wire.pcapng import INBOUND, OUTBOUND, PcapngWriter

__all__ = [
    "INBOUND", "OUTBOUND", "ArpResponder", "Capture", "Captured", "IoLoop", "Link",
    "LoopTuning", "PcapngWriter", "RxFrame", "Timer", "TxFrame",
]
