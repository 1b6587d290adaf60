"""The foundation end to end: lab up, the Linux host DUT over its console, 1 MB each way
with the pattern verified, TIME_WAIT in its connection list, and a lab down (also after
a kill -9 of `lab up`) that leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bench.inventory import Inventory
from bench.lab import netns
from bench.lab.access import DutSession
from bench.lab.up import up
from tests.lab.labkit import ROOT, bench_socket, lab_inventory, pattern, recv_exactly, running_lab

MB = 1_000_000


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inventory]:
    with running_lab(tmp_path_factory.mktemp("lab"), prefix="ht-", duts=["linux-host"]) as inv:
        yield inv


def test_up_twice_is_harmless(lab: Inventory) -> None:
    before = netns.pids_inside("ht-linux-host")
    up(lab, say=lambda _: None)
    assert netns.pids_inside("ht-linux-host") == before


def test_where_a_process_sends_into_the_lab_a_flow_stays_on_one_cpu(lab: Inventory) -> None:
    """RPS over all CPUs on the LAN ports that a sending process feeds (the bench's
    sockets, the peer, the impairment bridge, the DUT's TCP), read through each
    namespace's own sysfs, so a flow's frames share one backlog and keep their order;
    none on the interfaces the peer, the bridge and the DUT receive on, where steering
    would put a cross-CPU wake-up behind the kernel timestamp."""
    every_cpu = f"{(1 << (os.cpu_count() or 1)) - 1:x}"
    masks = {}
    for ns in netns.list_with_prefix("ht-"):
        script = ("for q in /sys/class/net/*/queues/rx-0; do "
                  "d=${q%/queues/rx-0}; echo ${d##*/} $(cat $q/rps_cpus); done")
        out = subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", script],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            ifname, mask = line.split()
            masks[f"{ns.removeprefix('ht-')}/{ifname}"] = mask.lstrip("0,") or "0"
    steered = {name for name, mask in masks.items() if mask == every_cpu}
    assert steered == {"lan/vk0", "lan/vp0", "lan/imp-b-br", "lan/imp-d-br", "lan/dut0"}
    assert masks["bench/peer0"] == masks["linux-host/eth0"] == masks["lan/imp-b"] == "0"


def test_hello_names_the_linux_stack(lab: Inventory, tmp_path: Path) -> None:
    with DutSession(lab, "linux-host", tmp_path) as dut:
        hello = dut.hello()
    assert hello.proto == 1 and hello.stack.startswith("linux-")
    assert "> hello" in (tmp_path / "console-linux-host.log").read_text()


def test_second_client_is_refused_naming_the_holder(lab: Inventory) -> None:
    from firmware_adapters.errors import ConsoleBusy

    with DutSession(lab, "linux-host"):
        with pytest.raises(ConsoleBusy, match=f"busy \\(held by pid {os.getpid()} since"):
            DutSession(lab, "linux-host").__enter__()


def test_dut_sends_1mb_to_bench_listener_with_pattern(lab: Inventory) -> None:
    listener = bench_socket(lab)
    listener.bind(("192.0.2.1", 5001))
    listener.listen(1)
    with DutSession(lab, "linux-host") as dut:
        cid = dut.connect("192.0.2.1", 5001)
        conn, _ = listener.accept()
        dut.wait_event("connected", 5, id=str(cid))
        dut.send(cid, MB)
        received = recv_exactly(conn, MB)
        dut.wait_event("sent", 10, id=str(cid))
        assert received == pattern(0, MB)
        dut.close_conn(cid)
        assert conn.recv(1) == b""  # the DUT's FIN
        conn.close()
        rows = dut.conns()
    listener.close()
    assert any(c.state == "TIME_WAIT" and c.remote == "192.0.2.1:5001" for c in rows), rows


def test_bench_sends_1mb_to_dut_listener_verified_by_dut(lab: Inventory) -> None:
    with DutSession(lab, "linux-host") as dut:
        dut.listen(5002, mode="check")
        client = bench_socket(lab)
        client.connect(("192.0.2.10", 5002))
        client.sendall(pattern(0, MB))
        event = dut.wait_event("accepted", 5)
        cid = int(event.fields["id"])
        deadline = time.monotonic() + 10
        while int(dut.stat(cid).get("rx_bytes", "0")) < MB and time.monotonic() < deadline:
            time.sleep(0.05)
        stat = dut.stat(cid)
        client.close()
    assert int(stat["rx_bytes"]) == MB
    assert int(stat["rx_bad"]) == 0


def test_cli_status_and_dut_hello(lab: Inventory, tmp_path: Path) -> None:
    inv_file = tmp_path / "inv.yaml"
    inv_file.write_text(yaml.safe_dump(lab.model_dump(mode="json")))
    run = subprocess.run([sys.executable, "-m", "bench.cli", "-i", str(inv_file), "lab",
                          "status"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "namespace ht-linux-host" in run.stdout and "dut ok" in run.stdout
    run = subprocess.run([sys.executable, "-m", "bench.cli", "-i", str(inv_file), "dut",
                          "linux-host", "hello"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "stack=linux-" in run.stdout, run.stderr


def test_unknown_dut_is_one_line(lab: Inventory, tmp_path: Path) -> None:
    inv_file = tmp_path / "inv.yaml"
    inv_file.write_text(yaml.safe_dump(lab.model_dump(mode="json")))
    run = subprocess.run([sys.executable, "-m", "bench.cli", "-i", str(inv_file), "dut",
                          "nope", "hello"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert run.stderr.strip() == ("hilbench: unknown DUT 'nope' (the inventory has: "
                                  "linux-host)")


def test_down_after_kill_9_of_up_leaves_nothing(tmp_path: Path) -> None:
    inv = lab_inventory(tmp_path, prefix="hk-", duts=["linux-host"])
    inv_file = tmp_path / "inv.yaml"
    inv_file.write_text(yaml.safe_dump(inv.model_dump(mode="json")))
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "-i", str(inv_file), "lab",
                             "up"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not netns.pids_inside("hk-linux-host") and time.monotonic() < deadline:
        time.sleep(0.01)  # kill it while it is starting the DUT processes
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert netns.list_with_prefix("hk-"), "up was killed before it built anything"
    run = subprocess.run([sys.executable, "-m", "bench.cli", "-i", str(inv_file), "lab",
                          "down"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    assert netns.list_with_prefix("hk-") == []
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                 and _cmdline_mentions(p, str(tmp_path))]
    assert leftovers == []


def _cmdline_mentions(proc_dir: Path, text: str) -> bool:
    try:
        return text in (proc_dir / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
