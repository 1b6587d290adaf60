"""The pcapng writer: frame numbers, nanosecond timestamps and directions survive a
read back, and tshark opens the file; the BPF builder accepts exactly what it should."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bench.wire import bpf, pcapread
from bench.wire.pcapng import INBOUND, OUTBOUND, PcapngWriter


def frame(dst_ip: str, ethertype: int = 0x0800, src: str = "0.0.0.0") -> bytes:
    ip = bytes(int(x) for x in dst_ip.split("."))
    source = bytes(int(x) for x in src.split("."))
    return (b"\xff" * 6 + b"\x02" * 6 + struct.pack("!H", ethertype) + b"\x45"
            + b"\0" * 11 + source + ip)


def test_round_trip_keeps_numbers_stamps_and_directions(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    writer = PcapngWriter(path)
    stamps = [1_795_000_000_123_456_789, 1_795_000_000_123_456_999]
    assert writer.write(frame("192.0.2.2"), stamps[0], INBOUND, "peer0") == 1
    assert writer.write(frame("192.0.2.10") + b"odd", stamps[1], OUTBOUND, "peer0",
                        comment="dropped by rule") == 2
    writer.close()
    records = list(pcapread.read(path))
    assert [r.frame_no for r in records] == [1, 2]
    assert [r.ts_ns for r in records] == stamps
    assert [r.direction for r in records] == [INBOUND, OUTBOUND]
    assert records[1].data.endswith(b"odd")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_it_with_nanoseconds(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    writer = PcapngWriter(path)
    writer.write(frame("192.0.2.2"), 1_795_000_000_000_000_001, INBOUND, "peer0")
    writer.close()
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e",
                          "frame.time_epoch", "-e", "frame.p2p_dir"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("1795000000.000000001")


def test_filter_passes_arp_and_owned_destinations_only() -> None:
    prog = bpf.ipv4_filter(["192.0.2.2/32", "198.51.100.0/24"])
    assert bpf.matches(prog, frame("192.0.2.2"))
    assert bpf.matches(prog, frame("198.51.100.77"))
    assert bpf.matches(prog, frame("0.0.0.0", 0x0806))
    assert not bpf.matches(prog, frame("192.0.2.3"))
    assert not bpf.matches(prog, frame("192.0.2.2", 0x86DD))
    both = bpf.ipv4_both_filter(["192.0.2.2/32"])
    assert not bpf.matches(both, frame("0.0.0.0", 0x0806))


def test_filter_with_sources_hears_only_the_dut_under_test() -> None:
    # two peers on one bench segment, each serving its own DUT, must not hear each other's
    prog = bpf.ipv4_filter(["192.0.2.2/32", "198.51.100.0/24"], src_networks=["192.0.2.10/32"])
    assert bpf.matches(prog, frame("192.0.2.2", src="192.0.2.10"))
    assert bpf.matches(prog, frame("198.51.100.7", src="192.0.2.10"))
    assert not bpf.matches(prog, frame("192.0.2.2", src="192.0.2.20"))
    assert not bpf.matches(prog, frame("192.0.2.3", src="192.0.2.10"))
    assert bpf.matches(prog, frame("0.0.0.0", 0x0806))
