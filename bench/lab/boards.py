"""Emulated boards in the lab: QEMU mps2-an385 running the lwIP firmware.

QEMU starts stopped (-S) inside the LAN namespace (its TAP lives there), the console
relay opens the board's pty, and only then does QMP `cont` start the CPU, so not one
console byte is lost. Its power cycle (QMP stop, system_reset, cont) is in
bench.lab.recovery.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bench.inventory.models import Dut, Inventory
from bench.lab import processes
from bench.lab import state as lab_state
from bench.lab.topology import Topology
from bench.power.qemu_reset import QmpSession
from sim.mps2_lwip.qemu_board import qemu_argv

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "sim" / "mps2_lwip" / "build"
PTY_LINE = re.compile(r"char device redirected to (/dev/pts/\d+)")


def firmware_image(dut: Dut) -> Path:
    """The ELF the board boots: the inventory's image, or the built variant."""
    assert dut.firmware is not None
    if dut.firmware.image:
        image = Path(dut.firmware.image)
    else:
        image = FIRMWARE_DIR / dut.firmware.variant / "firmware.elf"
    if not image.is_file():
        raise FileNotFoundError(f"{dut.name}: firmware image {image} is missing "
                                "(run 'make firmware')")
    return image


def qmp_socket(inv: Inventory, dut: Dut) -> Path:
    return Path(inv.lab.state_dir) / f"{inv.lab.prefix}{dut.name}.qmp"


def _wait_for_pty(log_path: Path, qmp_path: Path, proc: lab_state.LabProcess,
                  timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = PTY_LINE.search(log_path.read_text(errors="replace"))
        if match and qmp_path.exists():
            return match.group(1)
        if not proc.alive():
            tail = log_path.read_text(errors="replace").strip()[-300:]
            raise RuntimeError(f"QEMU exited at start: {tail}")
        time.sleep(0.02)
    raise TimeoutError(f"QEMU did not report its console within {timeout_s:.0f} s "
                       f"(see {log_path})")


def start_qemu_board(inv: Inventory, topo: Topology, state: lab_state.LabState, dut: Dut,
                     say) -> None:  # noqa: ANN001 (Progress callable)
    """Boot the board and give it the inventory's address and MTU over its console."""
    from bench.lab.access import DutSession
    from bench.lab.up import logs_dir, start_relay

    if any(p.role == "qemu" and p.dut == dut.name and p.alive() for p in state.processes):
        return
    image = firmware_image(dut)
    qmp_path = qmp_socket(inv, dut)
    qmp_path.unlink(missing_ok=True)
    log_path = logs_dir(inv) / f"qemu-{dut.name}.log"
    log_path.unlink(missing_ok=True)
    argv = qemu_argv(image, topo.dut_port(inv, dut), dut.link.mac, qmp_path)
    proc = processes.spawn(state, inv.lab.state_dir, "qemu", dut.name, topo.lan_ns, argv,
                           log_path)
    pty = _wait_for_pty(log_path, qmp_path, proc)
    url = start_relay(inv, state, dut, pty)
    state.consoles[dut.name]["qmp"] = str(qmp_path)
    lab_state.save(inv.lab.state_dir, state)
    with DutSession(inv, dut.name, timeout_s=2.0) as session:
        started = time.monotonic()
        with QmpSession(str(qmp_path)) as monitor:  # the bench's one QMP client
            monitor.execute("cont")  # only now: the session is attached and sees the boot
        session.wait_event("boot", 5.0)
        booted_s = time.monotonic() - started
        settings = {"addr": str(dut.link.address), "mtu": dut.link.mtu}
        if dut.link.gateway is not None:
            settings["gw"] = str(dut.link.gateway)
        session.link_set(**settings)
        hello = session.hello()
    say(f"{dut.name}: QEMU pid {proc.pid}, {hello.stack} build {hello.build}, booted in "
        f"{booted_s * 1000:.0f} ms, console {url}")

