"""`hilbench lab up`: build the emulated lab the inventory describes.

Every step is idempotent (running `up` twice is harmless) and recorded in the state file
as it happens, so `down` can undo a half-built lab after a crash or a kill -9.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.inventory.models import Dut, DutKind, ImpairmentKind, Inventory
from bench.lab import links, netns, processes
from bench.lab import state as lab_state
from bench.lab.topology import INFRA_MTU, Topology, for_inventory

Progress = Callable[[str], None]


def logs_dir(inv: Inventory) -> Path:
    return Path(inv.lab.state_dir) / f"{inv.lab.prefix}logs"


def _namespace(state: lab_state.LabState, inv: Inventory, name: str) -> None:
    if name not in state.namespaces:
        state.namespaces.append(name)
        lab_state.save(inv.lab.state_dir, state)
    netns.create(name)
    links.loopback_up(name)


def build_network(inv: Inventory, topo: Topology, state: lab_state.LabState,
                  say: Progress) -> None:
    """Namespaces, bridges, veths, addresses: the lab's wiring (docs/architecture.md)."""
    for ns in (topo.bench_ns, topo.lan_ns):
        _namespace(state, inv, ns)
    lan = topo.lan_ns
    links.bridge(lan, topo.bench_bridge)
    links.bridge(lan, topo.lan_bridge)

    bench = inv.bench
    links.veth(topo.bench_ns, bench.interface, lan, "vk0", mtu=1500)
    links.set_mac(topo.bench_ns, bench.interface, bench.mac)
    links.add_address(topo.bench_ns, bench.interface, str(bench.address))
    links.veth(topo.bench_ns, bench.peer.interface, lan, "vp0", mtu=INFRA_MTU)
    links.set_mac(topo.bench_ns, bench.peer.interface, bench.peer.mac)
    for port in ("vk0", "vp0"):
        links.set_mtu(lan, port, INFRA_MTU)
        links.keep_flow_order(lan, port)  # the bench's sockets and the peer send here
        links.enslave(lan, port, topo.bench_bridge)

    if inv.impairment.kind is ImpairmentKind.BRIDGE:
        side_b, side_d = inv.impairment.interfaces
        links.veth(lan, side_b, lan, f"{side_b}-br", mtu=INFRA_MTU)
        links.veth(lan, side_d, lan, f"{side_d}-br", mtu=INFRA_MTU)
        for port in (f"{side_b}-br", f"{side_d}-br"):  # the bridge process sends here
            links.keep_flow_order(lan, port)
        links.enslave(lan, f"{side_b}-br", topo.bench_bridge)
        links.enslave(lan, f"{side_d}-br", topo.lan_bridge)
    else:
        links.veth(lan, "link-b", lan, "link-d", mtu=INFRA_MTU)
        links.enslave(lan, "link-b", topo.bench_bridge)
        links.enslave(lan, "link-d", topo.lan_bridge)

    for dut in inv.duts:
        if dut.kind is DutKind.SIM_LINUX:
            ns = topo.dut_ns(dut)
            _namespace(state, inv, ns)
            port = topo.dut_port(inv, dut)
            links.veth(ns, dut.link.interface, lan, port, mtu=dut.link.mtu)
            links.set_mtu(lan, port, INFRA_MTU)
            links.keep_flow_order(lan, port)  # the DUT's TCP sends here
            links.set_mac(ns, dut.link.interface, dut.link.mac)
            links.add_address(ns, dut.link.interface, str(dut.link.address))
            links.enslave(lan, port, topo.lan_bridge)
        elif dut.kind is DutKind.SIM_QEMU:
            port = topo.dut_port(inv, dut)
            links.tap(lan, port, mtu=INFRA_MTU)
            links.enslave(lan, port, topo.lan_bridge)
    say(f"network: namespaces {', '.join(state.namespaces)}")


def impair_socket(inv: Inventory) -> Path:
    """The impairment bridge's control socket for this lab (in its state dir)."""
    return Path(inv.lab.state_dir) / f"impair-{inv.lab.prefix}.sock"


def start_impairment(inv: Inventory, topo: Topology, state: lab_state.LabState,
                     say: Progress) -> None:
    """The impairment bridge process between the bench segment and the DUT LAN."""
    if inv.impairment.kind is not ImpairmentKind.BRIDGE:
        return
    if any(p.role == "impair" and p.alive() for p in state.processes):
        return
    side_b, side_d = inv.impairment.interfaces
    control = impair_socket(inv)
    argv = [sys.executable, "-m", "bench.impair.bridge", "--netns", topo.lan_ns,
            "--a", side_b, "--b", side_d, "--control", str(control),
            "--log", str(logs_dir(inv) / "impair-events.jsonl"), "--mtu", str(INFRA_MTU)]
    proc = processes.spawn(state, inv.lab.state_dir, "impair", None, None, argv,
                           logs_dir(inv) / "impair.log")
    deadline = time.monotonic() + 10
    while not control.exists():
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"impairment bridge did not start (see {logs_dir(inv)}/impair.log)")
        time.sleep(0.02)
    state.extra["impair_control"] = str(control)
    lab_state.save(inv.lab.state_dir, state)
    say(f"impairment: bridge {side_b} <-> {side_d} (pid {proc.pid}), control {control}")


def start_relay(inv: Inventory, state: lab_state.LabState, dut: Dut, pty: str) -> str:
    """Hold the DUT's console in a relay; return its socket:// URL once the pty is open."""
    port_file = Path(inv.lab.state_dir) / f"{inv.lab.prefix}{dut.name}.port"
    port_file.unlink(missing_ok=True)
    console_log = logs_dir(inv) / f"console-{dut.name}.log"
    argv = [sys.executable, "-m", "bench.lab.console_relay", "--name", dut.name, "--pty", pty,
            "--port-file", str(port_file), "--log", str(console_log)]
    relay = processes.spawn(state, inv.lab.state_dir, "relay", dut.name, None, argv,
                            logs_dir(inv) / f"relay-{dut.name}.log")
    port = processes.wait_for_file(port_file, 10, relay, f"console relay for {dut.name}")
    url = f"socket://127.0.0.1:{port}"
    state.consoles[dut.name] = {"url": url, "pty": pty, "log": str(console_log)}
    lab_state.save(inv.lab.state_dir, state)
    return url


def _alive(state: lab_state.LabState, role: str, dut: Dut) -> bool:
    return any(p.role == role and p.dut == dut.name and p.alive() for p in state.processes)


def start_linux_host(inv: Inventory, topo: Topology, state: lab_state.LabState, dut: Dut,
                     say: Progress) -> None:
    """The Linux host DUT: the agent on a pty inside the DUT's namespace, plus its relay."""
    if _alive(state, "agent", dut) and _alive(state, "relay", dut):
        return
    pty_file = Path(inv.lab.state_dir) / f"{inv.lab.prefix}{dut.name}.pty"
    pty_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "sim.linux_agent", "--name", dut.name,
            "--pty-file", str(pty_file), "--ifname", dut.link.interface,
            "--log", str(logs_dir(inv) / f"agent-{dut.name}.log")]
    agent = processes.spawn(state, inv.lab.state_dir, "agent", dut.name, topo.dut_ns(dut), argv,
                            logs_dir(inv) / f"agent-{dut.name}.out")
    pty = processes.wait_for_file(pty_file, 10, agent, f"agent of {dut.name}")
    url = start_relay(inv, state, dut, pty)
    say(f"{dut.name}: Linux host agent pid {agent.pid} in {topo.dut_ns(dut)}, console {url}")


def start_dut(inv: Inventory, topo: Topology, state: lab_state.LabState, dut: Dut,
              say: Progress) -> None:
    if dut.kind is DutKind.SIM_LINUX:
        start_linux_host(inv, topo, state, dut, say)
    elif dut.kind is DutKind.SIM_QEMU:
        from bench.lab.boards import start_qemu_board

        start_qemu_board(inv, topo, state, dut, say)


def up(inv: Inventory, say: Progress = print, only: list[str] | None = None) -> lab_state.LabState:
    """Build the lab; `only` limits which simulated DUTs are started."""
    topo = for_inventory(inv)
    state = lab_state.load(inv.lab.state_dir, inv.lab.prefix)
    logs_dir(inv).mkdir(parents=True, exist_ok=True)
    build_network(inv, topo, state, say)
    start_impairment(inv, topo, state, say)
    for dut in inv.duts:
        if dut.kind.simulated and (only is None or dut.name in only):
            start_dut(inv, topo, state, dut, say)
    state.extra["up_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    lab_state.save(inv.lab.state_dir, state)
    return state
