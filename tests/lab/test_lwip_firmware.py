"""Lab tests of the mps2-lwip firmware (sim/mps2_lwip) on QEMU mps2-an385.

Each test boots a board in its own network namespace ``hbt-fw-<random>`` (bridge
with 192.0.2.1/24 for the namespace kernel, TAP for the board at 192.0.2.20) and
tears everything down afterwards. Needs root, qemu-system-arm and the
arm-none-eabi toolchain; the firmware is built with ``make -C sim/mps2_lwip`` when
missing. Under CI (CI=true) a missing prerequisite fails instead of skipping.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from sim.mps2_lwip import qemu_board, smoke
from tests.conftest import require_lab, skip_or_fail

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "sim" / "mps2_lwip"
VARIANTS = ("stock", "tuned", "ci-fast")
BUILD_ID_RE = re.compile(r"^(?P<ver>\S+)-(?P<variant>stock|tuned|ci-fast)-(?P<h>[0-9a-f]{8})$")


def _require_tools(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            skip_or_fail(f"{t} is not installed (apt: qemu-system-arm gcc-arm-none-eabi "
                     "libnewlib-arm-none-eabi dpkg-dev)")


@pytest.fixture(scope="session")
def firmware() -> dict[str, Path]:
    """The three firmware images, (re)built with make when the toolchain is here."""
    elfs = {v: FW / "build" / v / "firmware.elf" for v in VARIANTS}
    if shutil.which("arm-none-eabi-gcc") and shutil.which("make"):
        r = subprocess.run(["make", "-C", str(FW), "-j2"], capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, f"firmware build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    elif not all(e.exists() for e in elfs.values()):
        _require_tools("arm-none-eabi-gcc", "make")
    return elfs


def _build_id(elf: Path) -> str:
    hdr = (elf.parent / "build_id.h").read_text()
    return re.search(r'HB_BUILD_ID "([^"]+)"', hdr).group(1)


def test_images_build_ids_and_size(firmware):
    _require_tools("arm-none-eabi-size")
    for variant, elf in firmware.items():
        out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True,
                             text=True, check=True).stdout
        text = int(out.splitlines()[1].split()[0])
        assert text < 64 * 1024, f"{variant}: text {text} >= 64 KiB"
        assert (elf.with_suffix(".bin")).stat().st_size > 0
        bid = _build_id(elf)
        m = BUILD_ID_RE.match(bid)
        assert m, bid
        assert m["variant"] == variant
        opts = (FW / "variants" / variant / "lwipopts.h").read_bytes()
        assert m["h"] == hashlib.sha256(opts).hexdigest()[:8]
        assert bid.encode() in elf.read_bytes()


@pytest.fixture
def lab_env():
    require_lab()
    _require_tools("qemu-system-arm", "ip")


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["ci-fast", "tuned", "stock"])
def test_smoke(variant, firmware, lab_env, tmp_path, record_property):
    """Boot, ping, 1 MiB echo / discard / board-as-client, TIME_WAIT (ci-fast)."""
    rep = smoke.run(firmware[variant], variant, tmp_path)
    (tmp_path / "report.json").write_text(json.dumps(rep, indent=2, default=str))
    b = rep["board_client"]
    figures = {
        "build": rep["hello"]["build"],
        "boot_ms": round(rep["boot_s"] * 1000, 1),
        "ping": f"{rep['ping']['received']}/{rep['ping']['sent']}",
        "echo_mib_s": rep["echo"]["mib_s"],
        "to_board_mib_s": rep["discard"]["mib_s"],
        "from_board_mib_s": b.get("mib_s"),
        "time_wait_s": b.get("time_wait_s"),
    }
    for k, v in figures.items():
        record_property(k, v)
    print(f"\n{variant}: {figures}")
    assert rep["hello"]["build"] == _build_id(firmware[variant])
    assert rep["hello"]["name"] == "lwip-m3" and rep["hello"]["stack"] == "lwip-2.1.3"
    assert rep["evt_boot"]["build"] == rep["hello"]["build"]
    assert rep["link"]["mac"] == smoke.BOARD_MAC
    assert smoke.problems(rep) == []
    if variant == "ci-fast":
        assert b["evt_closed"].get("state") == "TIME_WAIT"
        assert b["time_wait_line"].startswith("- id=0 state=TIME_WAIT")


# ---------------------------------------------------------------------------
# protocol conformance on one ci-fast board

def _wait(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def _stat(con, cid) -> dict:
    reply, _ = con.request(f"stat {cid}")
    assert reply.startswith("OK stat"), reply
    return qemu_board.kv(reply)


def test_protocol(firmware, lab_env, tmp_path):
    with smoke.FwLab(firmware["ci-fast"], tmp_path) as lab:
        con = lab.con
        ok, req = con.ok, con.request
        # framing: \r\n, empty lines, unknown commands, compiled-in constants
        assert req("hello", eol="\r\n")[0].startswith("OK hello name=lwip-m3 proto=1 ")
        con.ser.write(b"\n\r\n")
        assert req("hello")[0].startswith("OK hello")
        assert req("frobnicate")[0] == "ERR EUNKNOWN unknown command frobnicate"
        assert req("set TCP_MSL 5")[0].startswith("ERR EINVAL")
        assert req("link set initcwnd=10")[0].startswith("ERR EINVAL")
        assert req("link set mtu=99999")[0].startswith("ERR EINVAL")
        assert req("x" * 300)[0].startswith("ERR EINVAL")
        assert req("stat 999")[0].startswith("ERR ENOENT")
        consts = ok("consts")
        for key in ("TCP_MSS", "TCP_WND", "TCP_SND_BUF", "TCP_MSL", "TCP_SYNMAXRTX",
                    "TCP_MAXRTX", "TCP_TMR_INTERVAL", "TCP_WND_SCALE", "LWIP_TCP_SACK_OUT",
                    "MEMP_NUM_TCP_PCB"):
            assert key in consts
        assert consts["TCP_MSS"] == "536" and consts["TCP_MSL"] == "1000"
        assert consts["TCP_SYNMAXRTX"] == "6" and consts["TCP_MAXRTX"] == "12"
        link = ok("link set addr=192.0.2.20/24 gw=192.0.2.1 mtu=1400")
        assert link["addr"] == "192.0.2.20/24" and link["gw"] == "192.0.2.1"
        assert link["mtu"] == "1400" and link["up"] == "1"
        ok("link set mtu=1500")

        # UDP: echo on port 7 from boot, a counting socket
        u = lab.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        u.sendto(b"udp-echo", (smoke.BOARD_IP, 7))
        assert u.recvfrom(100)[0] == b"udp-echo"
        assert ok("udp bind 5555 mode=count")["port"] == "5555"
        assert req("udp bind 5555")[0].startswith("ERR EBUSY")
        for _ in range(3):
            u.sendto(b"x" * 100, (smoke.BOARD_IP, 5555))
        st = _wait(lambda: (s := ok("udp stat 5555"))["rx_dgrams"] == "3" and s)
        assert st["rx_bytes"] == "300" and st["tx_dgrams"] == "0"
        u.close()

        # connect to a closed port: ECONNREFUSED
        cid = ok("connect 192.0.2.1 5999")["id"]
        assert con.wait_event("error", 5, id=cid)["code"] == "ECONNREFUSED"
        con.wait_event("closed", 5, id=cid)

        # listen / EBUSY / hold mode closes the window / rx switches it on again
        lid = ok("listen 6001 mode=hold")["lid"]
        assert req("listen 6001")[0].startswith("ERR EBUSY")
        s = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((smoke.BOARD_IP, 6001))
        acc = con.wait_event("accepted", 5, lid=lid)
        cid = acc["id"]
        assert acc["remote"] == f"{smoke.HOST_IP}:{s.getsockname()[1]}"
        s.setblocking(False)
        sent = 0
        data = smoke.pattern(200000)
        t_end = time.monotonic() + 3
        while time.monotonic() < t_end and sent < len(data):
            try:
                sent += s.send(data[sent:sent + 4096])
            except BlockingIOError:
                time.sleep(0.05)
        st = _wait(lambda: (x := _stat(con, cid))["rcv_wnd"] == "0" and x)
        assert st, "receive window did not close in hold mode"
        assert st["rx_bytes"] == "0" and st["mode"] == "hold"
        # sys_now() follows real time (free-running timer, not counted ticks)
        a0, h0 = int(_stat(con, cid)["age_ms"]), time.monotonic()
        time.sleep(1.0)
        a1, h1 = int(_stat(con, cid)["age_ms"]), time.monotonic()
        assert abs((a1 - a0) - (h1 - h0) * 1000) < 100, (a1 - a0, h1 - h0)
        assert ok(f"rx {cid} check")["mode"] == "check"
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(data[sent:])
        st = _wait(lambda: (x := _stat(con, cid))["rx_bytes"] == str(len(data)) and x, 20)
        assert st and st["rx_bad"] == "0", _stat(con, cid)
        s.sendall(b"\xff" * 10)  # not the pattern
        assert _wait(lambda: _stat(con, cid)["rx_bad"] == "10")
        # peer closes first: EVT peer_closed, then our close frees it
        s.close()
        con.wait_event("peer_closed", 5, id=cid)
        assert _stat(con, cid)["state"] == "CLOSE_WAIT"
        ok(f"close {cid}")
        con.wait_event("closed", 5, id=cid)
        assert ok(f"unlisten {lid}")["lid"] == lid
        assert req(f"unlisten {lid}")[0].startswith("ERR ENOENT")

        # shutdown: FIN after the queued data; abort: RST
        lid = ok("listen 6002 mode=discard")["lid"]
        s = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((smoke.BOARD_IP, 6002))
        cid = con.wait_event("accepted", 5, lid=lid)["id"]
        ok(f"send {cid} 5000")
        ok(f"shutdown {cid}")
        s.settimeout(5)
        got = smoke._recv_until(s, 6000, 5)
        assert got == smoke.pattern(5000)  # then EOF
        assert con.wait_event("sent", 5, id=cid)["bytes"] == "5000"
        assert req(f"send {cid} 10")[0].startswith("ERR ESTATE")
        s.close()
        con.wait_event("peer_closed", 5, id=cid)
        assert con.wait_event("closed", 5, id=cid).get("state") == "TIME_WAIT"
        _, lines = req("conns")
        assert any(ln.startswith("- id=0 state=TIME_WAIT") for ln in lines), lines

        s = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((smoke.BOARD_IP, 6002))
        cid = con.wait_event("accepted", 5, lid=lid)["id"]
        ok(f"abort {cid}")
        con.wait_event("closed", 5, id=cid)
        s.settimeout(5)
        with pytest.raises(ConnectionResetError):
            s.recv(10)
        s.close()

        # reboot: OK, then EVT boot, then only the boot listeners remain
        assert req("reboot")[0] == "OK reboot"
        boot = con.wait_event("boot", 5)
        assert boot["build"] == _build_id(firmware["ci-fast"])
        reply, lines = req("conns")
        assert reply == "OK conns n=2", lines
        # a reset from outside (QMP system_reset, as the lab's power cycle) boots too
        qemu_board.system_reset(lab.board.qmp_path)
        con.wait_event("boot", 5)
        assert req("hello")[0].startswith("OK hello")
        assert max(len(t) for _, t in lab.log) <= 511
