"""The impairment bridge on real traffic, in a scratch lab (hbt-imp-a | -br | -b).

hbt-imp-a plays the bench (192.0.2.1), hbt-imp-b the DUT (192.0.2.10), and the bridge
process runs in hbt-imp-br between them. Every figure is read from the kernel: interface
counters, kernel timestamps, a tcpdump capture read back with tshark.
"""

from __future__ import annotations

import collections
import math
import socket
import statistics
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bench.impair import loadgen, scratchlab
from bench.impair.eventlog import read_log
from bench.lab import netns

NOBODY_MAC = "02:00:00:00:0b:ff"  # b counts these frames and drops them unanswered


@pytest.fixture(scope="module")
def lab():
    built = scratchlab.build()
    yield built
    scratchlab.teardown(built)


@pytest.fixture(scope="module")
def bridge(lab, tmp_path_factory):
    process = scratchlab.BridgeProcess(lab, tmp_path_factory.mktemp("bridge"))
    yield process
    assert process.stop() == 0


def set_rules(bridge, rules: dict) -> None:
    reply = bridge.request({"op": "set", "rules": rules})
    assert reply["ok"], reply


def log_records(bridge, since_rules: int = -1) -> list[dict]:
    """Packet records logged under the rule set installed last."""
    time.sleep(0.3)  # the bridge flushes its log when idle
    records = read_log(bridge.log_path)
    starts = [i for i, r in enumerate(records) if r.get("event") == "rules"]
    return [r for r in records[starts[since_rules] + 1:] if "action" in r]


def stage(bridge, direction: str = "to-dut", index: int = 0) -> dict:
    return bridge.request({"op": "show"})["stages"][direction]["stages"][index]


def send_udp_frames(lab, count: int, rate_fps: float, frame_bytes: int = 128,
                    first_seq: int = 0) -> tuple[int, int]:
    """Send `count` numbered frames a -> b; return (tx counted on a, rx counted on b)."""
    ring = netns.run_in(lab.ns_a, lambda: loadgen.TxRing("eth0"))
    template = loadgen.udp_frame(lab.mac_a, NOBODY_MAC, lab.ip_a, lab.ip_b, 4000, 9,
                                 frame_bytes)
    tx0 = scratchlab.link_counters(lab.ns_a, "eth0")[1]
    rx0 = scratchlab.link_counters(lab.ns_b, "eth0")[0]
    batch = 1 if rate_fps < 5_000 else 64  # slow rates: evenly spaced, not in bursts
    assert ring.send(template, count, rate_fps, batch=batch, first_seq=first_seq) == count
    ring.close()
    time.sleep(0.3)
    return (scratchlab.link_counters(lab.ns_a, "eth0")[1] - tx0,
            scratchlab.link_counters(lab.ns_b, "eth0")[0] - rx0)


def probe_latencies_ms(lab, probes: int, rate_fps: float) -> dict[int, float]:
    """seq -> one-way latency (kernel tx timestamp on a, kernel rx timestamp on b)."""
    out_sniff = scratchlab.outgoing_sniffer(lab.ns_a, "eth0")
    in_sniff = scratchlab.outgoing_sniffer(lab.ns_b, "eth0")
    send_udp_frames(lab, probes, rate_fps, first_seq=1)

    def stamps(sock: socket.socket) -> list[tuple[int, int]]:
        found = []
        sock.setblocking(False)
        while True:
            try:
                data, ts = scratchlab.recv_timestamped(sock)
            except BlockingIOError:
                return found
            if data[36:38] == b"\x00\x09":
                found.append((struct.unpack_from("!I", data, loadgen.SEQ_OFFSET)[0], ts))

    sent, got = dict(stamps(out_sniff)), stamps(in_sniff)
    out_sniff.close()
    in_sniff.close()
    return {seq: (ts - sent[seq]) / 1e6 for seq, ts in got if seq in sent}


def received_order(lab, count: int, rate_fps: float) -> list[int]:
    sniff = scratchlab.outgoing_sniffer(lab.ns_b, "eth0")
    send_udp_frames(lab, count, rate_fps, first_seq=0)
    sniff.setblocking(False)
    order = []
    while True:
        try:
            data = sniff.recv(2048)
        except BlockingIOError:
            break
        if data[36:38] == b"\x00\x09":
            order.append(struct.unpack_from("!I", data, loadgen.SEQ_OFFSET)[0])
    sniff.close()
    return order


# --- scripted drop on a kernel TCP flow ------------------------------------------------

def tcp_transfer(lab, size_bytes: int, port: int) -> bytes:
    """The 'DUT' (kernel TCP in b) sends `size_bytes` to a listener on the bench (a)."""
    listener = netns.socket_in(lab.ns_a, socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((lab.ip_a, port))
    listener.listen(1)
    listener.settimeout(10)
    payload = bytes(i % 251 for i in range(size_bytes))
    received = bytearray()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(30)
        while chunk := conn.recv(1 << 16):
            received.extend(chunk)
        conn.close()

    server = threading.Thread(target=serve)
    server.start()
    client = netns.socket_in(lab.ns_b, socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(30)
    client.connect((lab.ip_a, port))
    client.sendall(payload)
    client.close()
    server.join(timeout=60)
    listener.close()
    assert bytes(received) == payload, "transfer incomplete or corrupted"
    return payload


def test_twentieth_data_segment_from_the_dut_and_only_it_is_dropped(lab, bridge):
    set_rules(bridge, {"to-bench": [{"name": "drop-20th", "match": {
        "proto": "tcp", "payload_min_bytes": 1, "nth": 20}, "action": {"kind": "drop"}}]})
    sniff_dut = scratchlab.outgoing_sniffer(lab.ns_b, "eth0")
    sniff_bench = scratchlab.outgoing_sniffer(lab.ns_a, "eth0")
    tcp_transfer(lab, 200_000, 5001)
    time.sleep(0.2)

    def data_segments(sock: socket.socket, src_ip: str) -> list[int]:
        seqs, src = [], socket.inet_aton(src_ip)
        sock.setblocking(False)
        while True:
            try:
                frame = sock.recv(4096)
            except BlockingIOError:
                return seqs
            if frame[23] == 6 and frame[26:30] == src:
                ihl = (frame[14] & 0x0F) * 4
                tcp = 14 + ihl
                total = struct.unpack_from("!H", frame, 16)[0]
                if total - ihl - (frame[tcp + 12] >> 4) * 4 > 0:
                    seqs.append(struct.unpack_from("!I", frame, tcp + 4)[0])

    sent = data_segments(sniff_dut, lab.ip_b)
    arrived = data_segments(sniff_bench, lab.ip_b)
    sniff_dut.close()
    sniff_bench.close()
    records = log_records(bridge)
    assert [r["action"] for r in records] == ["dropped"]
    assert records[0]["seq"] == sent[19], "the 20th data segment is the one dropped"
    assert stage(bridge, "to-bench")["dropped"] == 1
    assert collections.Counter(sent) - collections.Counter(arrived) == {sent[19]: 1}


# --- loss models -------------------------------------------------------------------------

def test_one_percent_loss_over_100k_frames_is_within_the_binomial_band(lab, bridge):
    set_rules(bridge, {"seed": 7, "to-dut": [{"match": {"proto": "udp"}, "select": {
        "kind": "random", "probability": "1%"}, "action": {"kind": "drop"}}]})
    n, p = 100_000, 0.01
    sent, received = send_udp_frames(lab, n, rate_fps=50_000)
    assert sent == n
    lost = sent - received
    band = 3.2905 * math.sqrt(n * p * (1 - p))  # two-sided 99.9 %
    assert abs(lost - n * p) <= band, f"{lost} lost, expected {n * p:.0f} +- {band:.0f}"
    assert stage(bridge)["dropped"] == lost, "every loss is the stage's, none unintended"
    assert bridge.request({"op": "show"})["ports"]["br-a"]["ring_drops"] == 0


def test_the_same_seed_gives_the_same_drops(lab, bridge):
    def drops(seed: int) -> list[tuple[int, int]]:
        set_rules(bridge, {"seed": seed, "to-dut": [{"match": {"proto": "udp"}, "select": {
            "kind": "random", "probability": "2%"}, "action": {"kind": "drop"}}]})
        send_udp_frames(lab, 20_000, rate_fps=40_000)
        return [(r["frame"], r["ip_id"]) for r in log_records(bridge)]

    first, again, other = drops(7), drops(7), drops(8)
    assert len(first) > 300
    assert first == again
    assert first != other


def test_gilbert_elliott_mean_burst_length_is_one_over_r(lab, bridge):
    p, r = 0.01, 0.25
    set_rules(bridge, {"seed": 3, "to-dut": [{"match": {"proto": "udp"}, "select": {
        "kind": "gilbert", "p": p, "r": r}, "action": {"kind": "drop"}}]})
    sent, received = send_udp_frames(lab, 60_000, rate_fps=50_000)
    frames = [rec["frame"] for rec in log_records(bridge)]
    assert len(frames) == sent - received
    bursts, run = [], 1
    for before, after in zip(frames, frames[1:], strict=False):
        if after == before + 1:
            run += 1
        else:
            bursts.append(run)
            run = 1
    bursts.append(run)
    mean = statistics.fmean(bursts)
    stderr = math.sqrt(1 - r) / r / math.sqrt(len(bursts))
    assert abs(mean - 1 / r) <= 4 * stderr, f"mean burst {mean:.2f} over {len(bursts)} bursts"


# --- delay, jitter, reorder, rate -------------------------------------------------------

def test_delay_and_jitter_follow_the_setting(lab, bridge):
    set_rules(bridge, {"to-dut": [{"match": {"proto": "udp"}, "action": {
        "kind": "delay", "delay_ms": "20ms", "jitter_ms": "2ms"}}]})
    latency = sorted(probe_latencies_ms(lab, 400, rate_fps=100).values())
    assert len(latency) == 400
    # Uniform on [18, 22] ms. The host adds its own scheduling noise on top: a shared
    # 2-core machine wakes a process late by up to a few ms now and then, so the
    # quantiles carry the test and the tail is only bounded.
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        expected = 18.0 + 4.0 * q
        assert abs(latency[int(q * len(latency))] - expected) < 0.45, (q, expected)
    assert latency[0] >= 18.0 - 0.05
    trimmed = latency[: int(0.97 * len(latency))]  # without the host's late wake-ups
    assert abs(statistics.fmean(trimmed) - 20.0 + 0.06) < 0.3  # 3 % trim lowers it 0.06
    assert sum(v > 22.5 for v in latency) <= 0.03 * len(latency)


def test_fixed_delay_keeps_order(lab, bridge):
    set_rules(bridge, {"to-dut": [{"match": {"proto": "udp"}, "action": {
        "kind": "delay", "delay_ms": 5, "jitter_ms": 4}}]})
    order = received_order(lab, 500, rate_fps=5_000)
    assert order == sorted(order) and len(order) == 500


def test_reorder_depth(lab, bridge):
    set_rules(bridge, {"to-dut": [{"match": {"proto": "udp", "nth": 10}, "action": {
        "kind": "reorder", "depth": 3}}]})
    order = received_order(lab, 30, rate_fps=1_000)
    expected = list(range(30))
    expected.remove(9)
    expected.insert(expected.index(12) + 1, 9)
    assert order == expected


def test_rate_limit_within_two_percent(lab, bridge):
    rate_bps = 20_000_000
    set_rules(bridge, {"to-dut": [{"match": {"proto": "udp"}, "action": {
        "kind": "rate", "rate_bps": rate_bps, "limit_packets": 200}, "log": "drops"}]})
    frame_bytes = 1514
    ring = netns.run_in(lab.ns_a, lambda: loadgen.TxRing("eth0"))
    template = loadgen.udp_frame(lab.mac_a, NOBODY_MAC, lab.ip_a, lab.ip_b, 4000, 9,
                                 frame_bytes)
    offered_fps = 2 * rate_bps / (frame_bytes * 8)
    sender = threading.Thread(target=ring.send, args=(template, 1 << 30, offered_fps),
                              kwargs={"deadline_s": 3.5})
    sender.start()
    time.sleep(0.8)
    t0, c0 = time.monotonic(), scratchlab.link_counters(lab.ns_b, "eth0")[0]
    time.sleep(2.0)
    t1, c1 = time.monotonic(), scratchlab.link_counters(lab.ns_b, "eth0")[0]
    sender.join()
    ring.close()
    measured_bps = (c1 - c0) * frame_bytes * 8 / (t1 - t0)
    assert abs(measured_bps / rate_bps - 1) <= 0.02, f"{measured_bps / 1e6:.2f} Mbit/s"
    assert stage(bridge).get("rate-dropped", 0) > 0  # offered twice the rate: tail drops


# --- TCP through loss: the log is the evidence --------------------------------------------

def test_10mb_through_1pct_loss_log_matches_retransmissions(lab, bridge, tmp_path: Path):
    set_rules(bridge, {"seed": 11, "to-bench": [{"match": {
        "proto": "tcp", "payload_min_bytes": 1}, "select": {"kind": "random",
        "probability": "1%"}, "action": {"kind": "drop"}}]})
    pcap = tmp_path / "sender.pcap"
    # immediate mode: without it libpcap hands frames over a block at a time (or after
    # its 1 s timeout), and the block still filling when tcpdump is stopped is lost:
    # the transfer's tail, and with it retransmissions the bridge did cause
    dump = netns.popen_in(lab.ns_b, ["tcpdump", "-i", "eth0", "-s", "128", "--immediate-mode",
                                     "-U", "-w", str(pcap), "tcp and src host " + lab.ip_b],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        tcp_transfer(lab, 10_000_000, 5002)
        time.sleep(0.5)
    finally:
        dump.terminate()
        dump.wait(timeout=10)
    dropped = collections.Counter(r["seq"] for r in log_records(bridge)
                                  if r["action"] == "dropped")
    fields = subprocess.run(
        ["tshark", "-r", str(pcap), "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.seq_raw"],
        capture_output=True, text=True, check=True).stdout.split()
    seen = collections.Counter(int(seq) for seq in fields)
    retransmitted = collections.Counter({seq: n - 1 for seq, n in seen.items() if n > 1})
    assert 40 < sum(dropped.values()) < 140
    assert dropped == retransmitted


def test_cli_set_show_clear_against_the_running_bridge(bridge, capsys):
    from bench.impair import cli

    control = ["--control", str(bridge.control_path)]
    assert cli.main(["impair", "set", "--loss", "1%", "--delay", "1ms", *control]) == 0
    assert cli.main(["impair", "show", *control]) == 0
    table = capsys.readouterr().out
    assert "to-dut" in table and "delay" in table and "port br-a" in table
    assert cli.main(["impair", "set", "--rate", "fast", *control]) == 2
    assert cli.main(["impair", "clear", *control]) == 0
    assert bridge.request({"op": "show"})["rules"] == {"seed": 0, "to-dut": [], "to-bench": []}
