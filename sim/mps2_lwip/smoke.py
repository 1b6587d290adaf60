#!/usr/bin/env python3
"""Smoke test of the mps2-lwip firmware on QEMU, in a private network namespace.

    sudo .venv/bin/python sim/mps2_lwip/smoke.py [--variant ci-fast] [--json out.json]

Creates a namespace ``hbt-fw-<random>`` holding a bridge (192.0.2.1/24, the
namespace kernel) and the TAP device of the board (192.0.2.20), starts QEMU
stopped inside it, opens the console pty, continues the CPU, then checks: EVT boot
and hello within 1 s, ping 20/20, 1 MiB TCP echo (port 7) byte for byte, 1 MiB to
the discard port 9, the board as a client sending 1 MiB of the pattern to a kernel
listener, and the board's TIME_WAIT lifetime after an active close. QEMU is
killed by PID and the namespace deleted at the end, whatever happens.
Needs root. Reports boot time, ping, throughput both ways and TIME_WAIT duration.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
try:
    from . import qemu_board
except ImportError:  # run as a script
    sys.path.insert(0, str(HERE))
    import qemu_board  # noqa: E402

BOARD_IP = "192.0.2.20"
HOST_IP = "192.0.2.1"
PREFIX = 24
BOARD_MAC = "02:00:00:00:02:20"
MIB = 1 << 20
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def pattern(n: int, offset: int = 0) -> bytes:
    base = bytes(range(251))
    start = offset % 251
    reps = (start + n) // 251 + 1
    return (base * reps)[start:start + n]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def socket_in(ns: str, *args) -> socket.socket:
    """A socket created inside network namespace `ns` (setns in a helper thread)."""
    out: dict = {}

    def run():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            out["s"] = socket.socket(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["s"]


class FwLab:
    """Namespace + bridge + TAP + one QEMU board with its console open."""

    def __init__(self, elf: Path, workdir: Path | None = None, mac: str = BOARD_MAC):
        self.elf = Path(elf)
        self.ns = f"hbt-fw-{secrets.token_hex(3)}"
        self.tap = "tap0"
        self.mac = mac
        self._own_workdir = workdir is None  # removed on a clean exit
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="hbt-fw-"))
        self.board: qemu_board.BoardProcess | None = None
        self.con: qemu_board.Console | None = None
        self.log: list = []
        self.boot_s: float | None = None

    # -- lifecycle --------------------------------------------------------
    def __enter__(self) -> FwLab:
        try:
            self._net_up()
            self.board = qemu_board.start_board(self.elf, self.ns, self.tap, self.mac,
                                                self.workdir)
            self.con = qemu_board.Console(self.board.pty, self.log)
            t0 = time.monotonic()
            qemu_board.cont(self.board.qmp_path)
            self.boot_evt = self.con.wait_event("boot", 5.0)
            self.boot_s = self.con.first_byte_at - t0
            self.boot_evt_s = time.monotonic() - t0
        except BaseException:
            self.__exit__(*sys.exc_info())  # keeps the QEMU log for a look
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.con is not None:
            try:
                self.con.close()
            except Exception:  # noqa: BLE001
                pass
            self.con = None
        if self.board is not None:
            qemu_board.stop(self.board)
            self.board = None
        subprocess.run(["ip", "netns", "delete", self.ns], capture_output=True)
        if self._own_workdir and exc and exc[0] is None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _net_up(self) -> None:
        _ip("netns", "add", self.ns)
        n = ["-n", self.ns]
        _ip(*n, "link", "set", "lo", "up")
        _ip(*n, "link", "add", "br0", "type", "bridge")
        _ip(*n, "tuntap", "add", "dev", self.tap, "mode", "tap")
        _ip(*n, "link", "set", self.tap, "master", "br0")
        _ip(*n, "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", "br0")
        _ip(*n, "link", "set", self.tap, "up")
        _ip(*n, "link", "set", "br0", "up")

    def socket(self, *args) -> socket.socket:
        return socket_in(self.ns, *args)


# -- checks -----------------------------------------------------------------

def _icmp_checksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def check_ping(lab: FwLab, count: int = 20, timeout: float = 1.0) -> dict:
    s = lab.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    rtts = []
    try:
        for seq in range(count):
            payload = struct.pack("!d", time.monotonic()) + bytes(48)
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            pkt = struct.pack("!BBHHH", 8, 0, _icmp_checksum(hdr + payload), ident, seq)
            t0 = time.monotonic()
            s.sendto(pkt + payload, (BOARD_IP, 0))
            deadline = t0 + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    data, addr = s.recvfrom(2048)
                except TimeoutError:
                    break
                ihl = (data[0] & 0x0F) * 4
                typ, _code, _ck, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                if addr[0] == BOARD_IP and typ == 0 and rid == ident and rseq == seq:
                    if data[ihl + 8:] == payload:
                        rtts.append((time.monotonic() - t0) * 1000)
                    break
            time.sleep(0.05)
    finally:
        s.close()
    return {"sent": count, "received": len(rtts),
            "rtt_ms_avg": round(sum(rtts) / len(rtts), 3) if rtts else None,
            "rtt_ms_max": round(max(rtts), 3) if rtts else None}


def _recv_until(s: socket.socket, n: int, timeout: float) -> bytes:
    buf = bytearray()
    s.settimeout(timeout)
    while len(buf) < n:
        chunk = s.recv(min(262144, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def check_echo(lab: FwLab, nbytes: int = MIB, timeout: float = 120.0) -> dict:
    data = secrets.token_bytes(nbytes)
    s = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((BOARD_IP, 7))
    err: list = []

    def sender():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=sender)
    t.start()
    got = _recv_until(s, nbytes, timeout)
    dt = time.monotonic() - t0
    t.join(timeout)
    s.settimeout(10)
    eof = s.recv(1) == b""
    s.close()
    return {"bytes": nbytes, "received": len(got), "equal": got == data, "eof": eof,
            "seconds": round(dt, 3), "mib_s": round(nbytes / MIB / dt, 3),
            "send_error": repr(err[0]) if err else None}


def check_discard(lab: FwLab, nbytes: int = MIB, timeout: float = 120.0) -> dict:
    data = secrets.token_bytes(nbytes)
    s = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((BOARD_IP, 9))
    t0 = time.monotonic()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    eof = s.recv(1) == b""  # the board's discard server closes after our FIN
    dt = time.monotonic() - t0
    s.close()
    return {"bytes": nbytes, "eof": eof, "seconds": round(dt, 3),
            "mib_s": round(nbytes / MIB / dt, 3)}


def check_board_client(lab: FwLab, nbytes: int = MIB, port: int = 5001,
                       timeout: float = 120.0, msl_ms: int | None = None) -> dict:
    """Board connects to a kernel listener and sends `nbytes` of the pattern; then
    the board closes first and its TIME_WAIT pcb is timed (when msl_ms is given)."""
    con = lab.con
    ls = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST_IP, port))
    ls.listen(1)
    ls.settimeout(10)
    res: dict = {"bytes": nbytes}
    try:
        cid = con.ok(f"connect {HOST_IP} {port}")["id"]
        conn, _ = ls.accept()
        ev = con.wait_event("connected", 5, id=cid)
        res["local"] = ev.get("local")
        t0 = time.monotonic()
        con.ok(f"send {cid} {nbytes}")
        got = _recv_until(conn, nbytes, timeout)
        dt = time.monotonic() - t0
        res.update(received=len(got), pattern_ok=(got == pattern(nbytes)),
                   seconds=round(dt, 3), mib_s=round(nbytes / MIB / dt, 3))
        sent = con.wait_event("sent", 30, id=cid)
        res["evt_sent_bytes"] = int(sent["bytes"])
        stat = qemu_board.kv(con.request(f"stat {cid}")[0])
        res["stat"] = stat
        # the board closes first
        con.ok(f"close {cid}")
        conn.settimeout(10)
        res["host_saw_fin"] = conn.recv(1) == b""
        conn.close()  # our FIN: the board goes FIN_WAIT_2 -> TIME_WAIT
        t_fin = time.monotonic()
        closed = con.wait_event("closed", 5, id=cid)
        res["evt_closed"] = closed
        if msl_ms is not None:
            res.update(_time_wait(con, port, t_fin, 2 * msl_ms / 1000 + 3))
    finally:
        ls.close()
    return res


def _tw_entries(con, port: int) -> list[str]:
    _, data = con.request("conns")
    return [d for d in data if "state=TIME_WAIT" in d and f"remote={HOST_IP}:{port}" in d]


def _time_wait(con, port: int, t_fin: float, limit: float) -> dict:
    seen = None
    first_line = None
    while time.monotonic() - t_fin < limit:
        tw = _tw_entries(con, port)
        now = time.monotonic()
        if tw and seen is None:
            seen = now
            first_line = tw[0]
        if not tw and seen is not None:
            return {"time_wait_line": first_line,
                    "time_wait_s": round(now - t_fin, 3),
                    "time_wait_seen_after_s": round(seen - t_fin, 3)}
        time.sleep(0.05)
    return {"time_wait_line": first_line, "time_wait_s": None}


def run(elf: Path, variant: str, workdir: Path | None = None) -> dict:
    msl = {"ci-fast": 1000}.get(variant)
    rep: dict = {"variant": variant, "elf": str(elf)}
    with FwLab(elf, workdir) as lab:
        con = lab.con
        rep["boot_s"] = round(lab.boot_s, 4)
        rep["boot_evt_s"] = round(lab.boot_evt_s, 4)
        rep["evt_boot"] = lab.boot_evt
        rep["hello"] = con.ok("hello")
        t_ready = time.monotonic()
        rep["hello_within_1s_of_cont"] = lab.boot_evt_s + (time.monotonic() - t_ready) < 1.0
        rep["link_set"] = con.ok(f"link set addr={BOARD_IP}/{PREFIX} mtu=1500")
        rep["consts"] = con.ok("consts")
        rep["ping"] = check_ping(lab)
        rep["echo"] = check_echo(lab)
        rep["discard"] = check_discard(lab)
        rep["board_client"] = check_board_client(lab, msl_ms=msl)
        rep["link"] = con.ok("link")
        rep["counters"] = con.ok("counters")
        rep["max_line_len"] = max((len(t) for _, t in lab.log), default=0)
        rep["garbage"] = con.garbage
        rep["qemu_pid"] = lab.board.pid
    return rep


def problems(rep: dict) -> list[str]:
    p = []
    if not rep.get("hello_within_1s_of_cont"):
        p.append("EVT boot + hello not within 1 s")
    if rep["ping"]["received"] != rep["ping"]["sent"]:
        p.append(f"ping {rep['ping']['received']}/{rep['ping']['sent']}")
    e = rep["echo"]
    if not (e["equal"] and e["eof"]):
        p.append(f"echo: {e}")
    if not rep["discard"]["eof"]:
        p.append("discard: no close from board")
    b = rep["board_client"]
    if not b.get("pattern_ok") or b.get("evt_sent_bytes") != b["bytes"]:
        p.append(f"board client: {b}")
    if rep["variant"] == "ci-fast":
        tw = b.get("time_wait_s")
        if b.get("time_wait_line") is None or tw is None or not (1.9 <= tw <= 2.0 + 0.5 + 0.3):
            p.append(f"TIME_WAIT: {b.get('time_wait_line')} lasted {tw}s (want 2.0..2.5 s)")
    if rep["max_line_len"] > 511:
        p.append(f"console line of {rep['max_line_len']} bytes")
    return p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="ci-fast", choices=["stock", "tuned", "ci-fast"])
    ap.add_argument("--elf", type=Path, help="firmware (default build/<variant>/firmware.elf)")
    ap.add_argument("--json", type=Path, help="write the report here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("smoke.py needs root (network namespaces, TAP devices)", file=sys.stderr)
        return 2
    elf = args.elf or HERE / "build" / args.variant / "firmware.elf"
    rep = run(elf, args.variant)
    size = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True)
    rep["size"] = size.stdout.strip()
    text = json.dumps(rep, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    bad = problems(rep)
    b = rep["board_client"]
    print(f"\nbuild={rep['hello'].get('build')} boot={rep['boot_s'] * 1000:.1f} ms "
          f"ping={rep['ping']['received']}/{rep['ping']['sent']} "
          f"echo={rep['echo']['mib_s']} MiB/s to-board={rep['discard']['mib_s']} MiB/s "
          f"from-board={b.get('mib_s')} MiB/s time_wait={b.get('time_wait_s')} s")
    for x in bad:
        print("FAIL:", x)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
