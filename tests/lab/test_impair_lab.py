"""The impairment generator in the real lab (prefix hy-) with the Linux host DUT: the
bridge between the bench segment and the DUT LAN corrupts chosen frames of a TCP
transfer and the DUT's kernel is seen dropping them; and the same rule objects run
inside the reference peer's own I/O (a lab with one NIC).

Evidence is the kernel's: a tcpdump capture on the DUT's own interface read back by tshark
with TCP checksum validation on, the DUT kernel's TcpInCsumErrors counter, the agent's
pattern check, and the bridge's impairment log.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.impair import control
from bench.impair.eventlog import read_log
from bench.impair.peer_io import PeerImpairment
from bench.impair.rules import load_rules
from bench.inventory import Inventory
from bench.lab import netns
from bench.lab.access import DutSession
from bench.lab.up import impair_socket
from bench.measure.peer_session import open_peer
from tests.lab.labkit import bench_socket, pattern, running_lab

PREFIX = "hy-"
DUT_IP = "192.0.2.10"
PORT = 5020
CORRUPT_NTH = (20, 60)  # data segments to the DUT whose payload gets one bit flipped
SIZE = 400_000


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix=PREFIX,
                     duts=["linux-host"]) as inv:
        yield inv


def impair_log(inv: Inventory) -> Path:
    return Path(inv.lab.state_dir) / f"{inv.lab.prefix}logs" / "impair-events.jsonl"


def records_under(path: Path, stage_name: str) -> list[dict]:
    """Packet records logged while the last rule set with `stage_name` was in force."""
    time.sleep(0.3)  # the bridge writes its log when idle
    records = read_log(path)
    rule_sets = [i for i, r in enumerate(records) if r.get("event") == "rules"]
    start = max(i for i in rule_sets if stage_name in str(records[i]["rules"]))
    end = min([i for i in rule_sets if i > start], default=len(records))
    return [r for r in records[start + 1:end] if "action" in r]


def csum_errors(ns: str) -> int:
    """The namespace's TcpInCsumErrors (/proc/net/snmp as seen from inside it)."""
    text = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"],
                          capture_output=True, text=True, check=True).stdout
    header, values = [line.split() for line in text.splitlines() if line.startswith("Tcp:")]
    return int(values[header.index("InCsumErrors")])


def tshark_rows(pcap: Path) -> list[dict[str, str]]:
    """Every TCP frame with checksum validation on: number, direction, seq/ack, status."""
    names = ["frame.number", "ip.src", "tcp.seq", "tcp.ack", "tcp.len",
             "tcp.checksum.status"]
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE", "-Y", "tcp",
         "-T", "fields", *[arg for name in names for arg in ("-e", name)]],
        capture_output=True, text=True, check=True).stdout
    return [dict(zip(names, line.split("\t"), strict=True)) for line in out.splitlines()]


def test_corrupted_segments_are_dropped_by_the_dut_kernel_and_retransmitted(
        lab: Inventory, tmp_path: Path) -> None:
    dut_ns = f"{PREFIX}linux-host"
    stages = [{"name": f"corrupt-{n}", "match": {
        "proto": "tcp", "dst_net": f"{DUT_IP}/32", "dst_port": PORT, "payload_min_bytes": 1,
        "nth": n}, "action": {"kind": "corrupt", "where": "payload"}} for n in CORRUPT_NTH]
    reply = control.request(impair_socket(lab), {"op": "set", "rules": {
        "seed": 5, "to-dut": stages}})
    assert reply["ok"], reply
    pcap = tmp_path / "dut-eth0.pcap"
    dump = netns.popen_in(dut_ns, ["tcpdump", "-i", "eth0", "--immediate-mode", "-U",
                                   "-w", str(pcap), f"tcp port {PORT}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    errors_before = csum_errors(dut_ns)
    try:
        time.sleep(1.0)
        with DutSession(lab, "linux-host", tmp_path) as dut:
            dut.listen(PORT, mode="check")
            client = bench_socket(lab)
            client.settimeout(20)
            client.connect((DUT_IP, PORT))
            client.sendall(pattern(0, SIZE))
            cid = int(dut.wait_event("accepted", 5).fields["id"])
            deadline = time.monotonic() + 20
            while (int(dut.stat(cid).get("rx_bytes", "0")) < SIZE
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            stat = dut.stat(cid)
            client.close()
        time.sleep(0.5)
    finally:
        dump.terminate()
        dump.wait(timeout=10)
        control.request(impair_socket(lab), {"op": "clear"})
    # the application got every byte, in order, none of them corrupted
    assert int(stat["rx_bytes"]) == SIZE and int(stat["rx_bad"]) == 0, stat
    # the DUT's kernel counted one checksum error per corrupted frame
    assert csum_errors(dut_ns) - errors_before == len(CORRUPT_NTH)

    rows = tshark_rows(pcap)
    to_dut = [r for r in rows if r["ip.src"] != DUT_IP and int(r["tcp.len"]) > 0]
    corrupted = [to_dut[n - 1] for n in CORRUPT_NTH]
    bad = [r for r in rows if r["tcp.checksum.status"] == "0"]  # 0: Bad, 1: Good
    assert [r["frame.number"] for r in bad] == [r["frame.number"] for r in corrupted]
    for seg in corrupted:
        seq, frame_no = int(seg["tcp.seq"]), int(seg["frame.number"])
        later = [r for r in rows if int(r["frame.number"]) > frame_no]
        resent = next(r for r in later if r["ip.src"] != DUT_IP
                      and int(r["tcp.seq"]) == seq and r["tcp.checksum.status"] == "1")
        between = [r for r in later if int(r["frame.number"]) < int(resent["frame.number"])]
        acks = [int(r["tcp.ack"]) for r in between if r["ip.src"] == DUT_IP]
        assert acks and max(acks) <= seq, f"the DUT acknowledged past corrupted seq {seq}"
        after = [int(r["tcp.ack"]) for r in later if r["ip.src"] == DUT_IP
                 and int(r["frame.number"]) > int(resent["frame.number"])]
        assert after and max(after) > seq, "the retransmission was acknowledged"

    # the impairment log lists exactly the corrupted frames
    records = records_under(impair_log(lab), f"corrupt-{CORRUPT_NTH[0]}")
    assert [r["action"] for r in records] == ["corrupted"] * len(CORRUPT_NTH)
    assert [r["rule"] for r in records] == [f"corrupt-{n}" for n in CORRUPT_NTH]
    isn = int(subprocess.run(
        ["tshark", "-r", str(pcap), "-Y", f"tcp.flags.syn == 1 and ip.dst == {DUT_IP}",
         "-T", "fields", "-e", "tcp.seq_raw"], capture_output=True, text=True,
        check=True).stdout.split()[0])
    assert [(r["seq"] - isn) % (1 << 32) for r in records] == \
        [int(seg["tcp.seq"]) for seg in corrupted]


def test_the_peer_applies_the_same_rules_in_its_own_io(lab: Inventory, tmp_path: Path) -> None:
    """The peer drops its own 10th data segment to the DUT and delays every TCP frame
    from the DUT by 5 ms before its TCBs see it; the bridge stays clear."""
    port, size, delay_ns = PORT + 1, 200_000, 5_000_000
    rules = load_rules({"seed": 3, "to-dut": [{"name": "drop-10th", "match": {
        "proto": "tcp", "payload_min_bytes": 1, "nth": 10}, "action": {"kind": "drop"}}],
        "to-bench": [{"name": "delay-5ms", "match": {"proto": "tcp"}, "action": {
            "kind": "delay", "delay_ms": "5ms"}}]})
    log = tmp_path / "peer-impair.jsonl"
    with DutSession(lab, "linux-host", tmp_path) as dut, \
            open_peer(lab, tmp_path, dut="linux-host") as peer:
        dut.listen(port, mode="check")
        with PeerImpairment(peer, rules, log) as impair:
            conn = peer.connect(DUT_IP, port)
            conn.send(pattern(0, size))
            conn.wait_acked(30)
            cid = int(dut.wait_event("accepted", 5).fields["id"])
            stat = dut.stat(cid)
            segments = peer.segments()
        counters = impair.counters()
        conn.close()
    assert int(stat["rx_bytes"]) == size and int(stat["rx_bad"]) == 0, stat
    assert counters["to-dut"]["stages"][0]["dropped"] == 1

    # the delay: the peer answers the SYN-ACK (kernel RX stamp) 5 ms later at the earliest
    synack = next(s for s in segments if s.direction == "in" and s.flags & 0x12 == 0x12)
    ack = next(s for s in segments if s.direction == "out" and s.ts_ns > synack.ts_ns)
    assert delay_ns <= ack.ts_ns - synack.ts_ns < delay_ns + 3_000_000

    # the drop: the logged segment never reached the wire until its retransmission,
    # which left after later data
    records = [r for r in read_log(log) if r.get("action") == "dropped"]
    assert [r["rule"] for r in records] == ["drop-10th"]
    dropped_seq = records[0]["seq"]
    data_out = [s for s in segments if s.direction == "out" and s.payload]
    assert data_out[9].seq != dropped_seq and data_out[9].seq > dropped_seq
    first = next(i for i, s in enumerate(data_out) if s.seq == dropped_seq)
    assert first > 9 and any(s.seq > dropped_seq for s in data_out[:first])
