"""Reaction time of the reference peer, and the accuracy of its kernel timestamps.

Reaction time: a data segment from the DUT in, the peer's ACK out, both stamped by the
kernel on the bench interface. The Linux kernel in a namespace is the DUT; it sends one
small segment at a time (TCP_NODELAY, spaced) and the peer ACKs each at once.
Measured for the model (plain Python on the raw socket) and, in the same run, for a
scapy-in-the-loop responder as the baseline.

Timestamp error: the peer's own kernel timestamps (RX and TX) against an independent
AF_PACKET capture on the DUT's side of the veth, frame by frame.

The DUT's application (the writer) runs in its own process, as a real DUT does; with
--dut-in-process it is a thread of this process and competes with the peer for the GIL.
The peer's I/O thread tuning (busy polling, SCHED_FIFO, pinning) comes from the options.

The first --warmup exchanges of each connection are reported on their own line and kept
out of the figures: the first finds the peer asleep (its poll lapsed while the DUT's
writer process started) and the next few dozen run cold. Before measuring, a probe spins
on the peer's CPU and counts the stalls the platform itself causes (a vCPU taken away by
the host, a guest timer tick): the tail of a run is read against that.

Prints a table; exits 1 when a target is missed. Needs root. Namespaces are
hbt-model-bench-*, removed on exit.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lab import links, netns  # noqa: E402
from bench.model import ConnOptions, DropRule, Peer  # noqa: E402
from bench.model.segment import parse_frame  # noqa: E402
from bench.wire import Capture, LoopTuning  # noqa: E402

PEER_IP, PEER_MAC, DUT_IP = "192.0.2.2", "02:00:00:00:01:02", "192.0.2.10"
TARGET_P50_US, TARGET_P99_US, TARGET_TS_P99_US = 60.0, 100.0, 50.0


def steal_ms() -> dict[str, float]:
    """Time the hypervisor ran something else while each vCPU wanted to run (/proc/stat
    `steal`, USER_HZ ticks): reaction times cannot be better than the host allows."""
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields[0].startswith("cpu") and fields[0] != "cpu" and len(fields) > 8:
            out[fields[0]] = int(fields[8]) * tick_ms
    return out


def platform_noise(cpu: int | None, seconds: float) -> dict[str, float]:
    """Spin on `cpu` for `seconds` reading the clock, as osnoise does: every gap between
    two reads is time this thread did not run (host preemption, interrupts). Rates of gaps
    over 50 and 100 us per second, and the longest (us)."""
    before = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    clock = time.perf_counter_ns
    gaps: list[int] = []
    try:
        last = clock()
        end = last + int(seconds * 1e9)
        while last < end:
            now = clock()
            if now - last > 50_000:
                gaps.append(now - last)
            last = now
    finally:
        os.sched_setaffinity(0, before)
    return {"over_50_per_s": len(gaps) / seconds,
            "over_100_per_s": sum(g > 100_000 for g in gaps) / seconds,
            "longest_us": max(gaps, default=0) / 1000}


def over_by_tenth(values: list[float], limit: float) -> list[int]:
    """How many of `values` (in run order) exceed `limit`, in each tenth of the run."""
    counts = [0] * 10
    for i, value in enumerate(values):
        if value > limit:
            counts[i * 10 // len(values)] += 1
    return counts


def lock_memory() -> None:
    """mlockall(MCL_CURRENT | MCL_FUTURE), as cyclictest -m: every page the process has or
    maps later is faulted in once, so the peer's growing segment log does not take a page
    fault (a guest fault, and often a host one) in the middle of an exchange."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(1 | 2) != 0:
        raise OSError(ctypes.get_errno(), f"mlockall: {os.strerror(ctypes.get_errno())}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q / 100 * len(ordered)), len(ordered) - 1)]


_WRITER = """import os, socket, sys, time
if sys.argv[4] != "-":
    os.sched_setaffinity(0, {int(sys.argv[4])})
s = socket.socket(fileno=int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    s.send(b"x")
    time.sleep(float(sys.argv[3]))
s.detach()
"""


def dut_sender(sock: socket.socket, count: int, gap_s: float,
               in_process: bool = False, cpu: int | None = None) -> threading.Thread:
    """The DUT writes `count` one-byte messages, `gap_s` apart: from a child process
    that inherits the socket (pinned to `cpu`, as a DUT would be another machine), or
    from a thread of this process."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run() -> None:
        if in_process:
            for _ in range(count):
                sock.send(b"x")
                time.sleep(gap_s)
            return
        fd = sock.fileno()
        subprocess.run([sys.executable, "-c", _WRITER, str(fd), str(count), str(gap_s),
                        "-" if cpu is None else str(cpu)],
                       pass_fds=[fd], check=True)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def reactions_us(frames: list[tuple[int, bool, bytes]], dut_port: int) -> list[float]:
    """From (ts_ns, outgoing, frame) on the bench interface: data from DUT -> next ACK
    out that covers it."""
    segments = []
    for ts_ns, outgoing, frame in frames:
        seg = parse_frame(frame)
        if seg is not None and (seg.dport if outgoing else seg.sport) == dut_port:
            segments.append((ts_ns, outgoing, seg))
    return _reactions_from_log(segments)


def scapy_responder(ns: str, ifname: str, port: int, stop: threading.Event,
                    ready: threading.Event) -> threading.Thread:
    """A scapy peer with a persistent L2 socket: sniff a data segment, answer an ACK."""

    def run() -> None:
        from scapy.config import conf
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        netns.enter(ns)
        sock = conf.L2socket(iface=ifname, filter=f"tcp and src port {port}")
        ready.set()
        try:
            while not stop.is_set():
                pkt = sock.recv()
                if pkt is None or TCP not in pkt or not len(pkt[TCP].payload):
                    continue
                ip, tcp = pkt[IP], pkt[TCP]
                reply = (Ether(src=PEER_MAC, dst=pkt[Ether].src)
                         / IP(src=ip.dst, dst=ip.src)
                         / TCP(sport=tcp.dport, dport=tcp.sport, flags="A", seq=tcp.ack,
                               ack=tcp.seq + len(tcp.payload), window=65535))
                sock.send(reply)
        finally:
            sock.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def measure(count: int, gap_s: float, tuning: LoopTuning | None = None,
            dut_in_process: bool = False, dut_cpu: int | None = None,
            warmup: int = 0) -> dict[str, list[float]]:
    tag = secrets.token_hex(2)
    peer_ns, dut_ns = f"hbt-model-bench-p{tag}", f"hbt-model-bench-d{tag}"
    results: dict[str, list[float]] = {}
    try:
        for ns in (peer_ns, dut_ns):
            netns.create(ns)
            links.loopback_up(ns)
        links.veth(peer_ns, "peer0", dut_ns, "eth0")
        links.add_address(dut_ns, "eth0", f"{DUT_IP}/24")
        srv = netns.socket_in(dut_ns, socket.AF_INET, socket.SOCK_STREAM)
        srv.bind((DUT_IP, 6000))
        srv.listen(4)
        bench_cap = Capture(peer_ns, "peer0", [f"{PEER_IP}/32"])
        dut_cap = Capture(dut_ns, "eth0", [f"{PEER_IP}/32"])
        peer = Peer(peer_ns, "peer0", PEER_IP, PEER_MAC, tuning=tuning)
        if peer.loop.tuning_errors:
            print("tuning refused:", "; ".join(peer.loop.tuning_errors))
        try:
            # --- the model ------------------------------------------------------
            conn = peer.connect(DUT_IP, 6000, ConnOptions(delayed_ack_s=0))
            dut, _ = srv.accept()
            mark = peer.mark()
            dut_sender(dut, warmup + count, gap_s, dut_in_process, dut_cpu).join()
            time.sleep(0.05)
            log = peer.segments(mark)
            own = [(s.ts_ns, s.direction == "out", s) for s in log]
            reactions = _reactions_from_log(own)
            results[f"model warm-up (first {warmup}, not counted)"] = reactions[:warmup]
            results["model (own kernel stamps)"] = reactions[warmup:]
            captured = [(c.ts_ns, c.outgoing, c.data) for c in bench_cap.read()]
            dut_side = [(c.ts_ns, c.outgoing, c.data) for c in dut_cap.read()]
            results["model (bench capture)"] = reactions_us(captured, 6000)[warmup:]
            results["timestamp error"] = _timestamp_errors(log, dut_side)
            conn.abort()
            dut.close()

            # --- scapy baseline on a second connection ---------------------------
            srv2 = netns.socket_in(dut_ns, socket.AF_INET, socket.SOCK_STREAM)
            srv2.bind((DUT_IP, 6001))
            srv2.listen(4)
            conn2 = peer.connect(DUT_IP, 6001, ConnOptions(timestamps=False, sack_permitted=False))
            dut2, _ = srv2.accept()
            peer.add_drop_rule(DropRule("in", lambda s: s.sport == 6001, count=None))
            stop, ready = threading.Event(), threading.Event()
            scapy_responder(peer_ns, "peer0", 6001, stop, ready)
            ready.wait(10)
            bench_cap.read()
            dut_sender(dut2, warmup + max(count // 2, 200), gap_s * 3, dut_in_process,
                       dut_cpu).join()
            time.sleep(0.2)
            stop.set()
            frames = [(c.ts_ns, c.outgoing, c.data) for c in bench_cap.read()]
            results["scapy baseline (bench capture)"] = reactions_us(frames, 6001)[warmup:]
            conn2.abort()
            dut2.close()
        finally:
            peer.close()
            bench_cap.close()
            dut_cap.close()
    finally:
        for ns in (peer_ns, dut_ns):
            netns.remove(ns)
    return results


def _reactions_from_log(entries: list) -> list[float]:  # type: ignore[type-arg]
    """From (ts_ns, outgoing, segment) in time order: each data segment in -> the first
    ACK out that covers it (us)."""
    out: list[float] = []
    waiting: list[tuple[int, int]] = []
    for ts_ns, outgoing, seg in entries:
        if not outgoing and seg.payload:
            waiting.append(((seg.seq + len(seg.payload)) & 0xFFFFFFFF, ts_ns))
        elif outgoing and waiting:
            keep = []
            for end, t_in in waiting:
                if (seg.ack - end) & 0xFFFFFFFF < 1 << 31:
                    out.append((ts_ns - t_in) / 1000)
                else:
                    keep.append((end, t_in))
            waiting = keep
    return out


def _timestamp_errors(log: list, dut_side: list[tuple[int, bool, bytes]]) -> list[float]:  # type: ignore[type-arg]
    """|bench stamp - DUT-side stamp| per frame, matched on (ports, seq, ack, flags, len)."""
    def key(seg) -> tuple:  # type: ignore[no-untyped-def,type-arg]
        return (seg.sport, seg.dport, seg.seq, seg.ack, seg.flags, len(seg.payload),
                seg.options_raw)

    dut_ts: dict[tuple, int] = {}  # type: ignore[type-arg]
    for ts_ns, _outgoing, frame in dut_side:
        seg = parse_frame(frame)
        if seg is not None:
            dut_ts.setdefault(key(seg), ts_ns)
    errors = []
    for seg in log:
        other = dut_ts.get(key(seg))
        if other is not None and seg.ts_ns:
            errors.append(abs(seg.ts_ns - other) / 1000)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="exchanges per run")
    parser.add_argument("--gap-ms", type=float, default=2.0, help="DUT send spacing")
    parser.add_argument("--busy-poll-us", type=int, default=0,
                        help="the peer polls this long after each frame before sleeping")
    parser.add_argument("--rt-priority", type=int, default=0,
                        help="SCHED_FIFO priority of the peer's I/O thread (0: normal)")
    parser.add_argument("--cpu", type=int, action="append",
                        help="pin the peer's I/O thread to this CPU (repeatable)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() before measuring (no old-generation scans)")
    parser.add_argument("--dut-cpu", type=int,
                        help="pin the DUT's writer process to this CPU")
    parser.add_argument("--cpu-dma-latency-us", type=int,
                        help="hold this PM QoS request (/dev/cpu_dma_latency) while measuring, "
                             "as cyclictest does: 0 keeps idle vCPUs polling instead of "
                             "halting; released when the benchmark exits")
    parser.add_argument("--dut-in-process", action="store_true",
                        help="the DUT's writer is a thread of this process, not a child")
    parser.add_argument("--lock-memory", action="store_true",
                        help="mlockall() before measuring: no page faults mid-exchange")
    parser.add_argument("--warmup", type=int, default=100,
                        help="exchanges before the counted ones, reported on their own line")
    parser.add_argument("--noise-probe-s", type=float, default=2.0,
                        help="spin this long on the peer's CPU first, counting platform "
                             "stalls (0: skip)")
    args = parser.parse_args(argv)
    tuning = LoopTuning(args.busy_poll_us, args.rt_priority,
                        frozenset(args.cpu) if args.cpu else None)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    print(f"tuning: {tuning}, gc_freeze={args.gc_freeze}, "
          f"dut_in_process={args.dut_in_process}, "
          f"cpu_dma_latency_us={args.cpu_dma_latency_us}, lock_memory={args.lock_memory}, "
          f"warmup={args.warmup}, load average {os.getloadavg()[0]:.2f}")
    if args.lock_memory:
        try:
            lock_memory()
        except OSError as exc:
            print(f"peer_latency: {exc}", file=sys.stderr)
            return 2
    if args.noise_probe_s > 0:
        probe_cpu = min(args.cpu) if args.cpu else None
        noise = platform_noise(probe_cpu, args.noise_probe_s)
        print(f"platform noise on CPU {'any' if probe_cpu is None else probe_cpu} "
              f"(a {args.noise_probe_s:g} s spinning probe): "
              f"{noise['over_50_per_s']:.0f} stalls/s over 50 us, "
              f"{noise['over_100_per_s']:.0f}/s over 100 us, longest {noise['longest_us']:.0f} us")
    qos = None
    if args.cpu_dma_latency_us is not None:  # a request lasts while the file is open
        qos = os.open("/dev/cpu_dma_latency", os.O_WRONLY)
        os.write(qos, struct.pack("i", args.cpu_dma_latency_us))
    stolen = steal_ms()
    try:
        results = measure(args.count, args.gap_ms / 1000, tuning, args.dut_in_process,
                          args.dut_cpu, args.warmup)
    finally:
        if qos is not None:
            os.close(qos)
    stolen = {cpu: ms - stolen.get(cpu, 0.0) for cpu, ms in steal_ms().items()}
    print("time stolen by the host during the run: "
          + ", ".join(f"{cpu} {ms:.0f} ms" for cpu, ms in stolen.items()))
    print(f"{'figure':34} {'n':>6} {'p50 us':>9} {'p90 us':>9} {'p99 us':>9} {'max us':>9}")
    for name, values in results.items():
        if values:
            print(f"{name:34} {len(values):6d} {statistics.median(values):9.1f} "
                  f"{percentile(values, 90):9.1f} {percentile(values, 99):9.1f} "
                  f"{max(values):9.1f}  over 100 us: {sum(v > TARGET_P99_US for v in values)}")
        else:
            print(f"{name:34} {0:6d} {'-':>9} {'-':>9} {'-':>9} {'-':>9}")
    model = results.get("model (own kernel stamps)", [])
    if model:
        print("model exchanges over 100 us, by tenth of the run (spread evenly: stalls at "
              "random; bunched: a slow spell of the host): "
              + " ".join(str(n) for n in over_by_tenth(model, TARGET_P99_US)))
    checks: list[tuple[str, Callable[[], bool]]] = [
        ("model p50 <= 60 us", lambda: statistics.median(
            results["model (own kernel stamps)"]) <= TARGET_P50_US),
        ("model p99 <= 100 us", lambda: percentile(
            results["model (own kernel stamps)"], 99) <= TARGET_P99_US),
        ("timestamp error p99 <= 50 us", lambda: percentile(
            results["timestamp error"], 99) <= TARGET_TS_P99_US),
        (f"at least {args.count} model exchanges", lambda: len(
            results["model (own kernel stamps)"]) >= args.count),
    ]
    failed = False
    for name, check in checks:
        ok = bool(results.get("model (own kernel stamps)")) and check()
        failed |= not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
