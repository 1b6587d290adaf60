"""A board that hangs in the middle of a Robot test, and a DUT someone else holds.

The hang is real: the test freezes the lab's QEMU with SIGSTOP while the board is being
measured. The TcpBench watchdog must notice within 10 s, power-cycle the board, fail
that test with the reason, and the next test must pass on the recovered board.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bench.inventory import Inventory
from bench.lab.access import DutSession
from bench.lab.recovery import is_stopped, qemu_process
from tests.lab.labkit import running_lab

PREFIX = "hw-"
BOARD = "lwip-m3"

SUITE = """\
*** Settings ***
Library         bench.robot.library.TcpBench    ${INVENTORY}
Suite Setup     Take DUT    ${DUT}
Suite Teardown  Release DUT

*** Test Cases ***
Board Hangs During A Measurement
    Measure    syn_retries

Board Answers After The Recovery
    DUT Should Answer Hello With Protocol Version 1
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inventory, Path]]:
    state = tmp_path_factory.mktemp("lab")
    with running_lab(state, prefix=PREFIX, duts=[BOARD]) as inv:
        path = state / "inventory.yaml"
        path.write_text(yaml.safe_dump(inv.model_dump(mode="json", exclude_none=True)))
        yield inv, path


def robot(inv_path: Path, suite: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "robot", "--outputdir", str(out), "--variable",
         f"INVENTORY:{inv_path}", "--variable", f"DUT:{BOARD}", "--variable",
         f"RUN_DIR:{out}", "--output", "output.xml", str(suite)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def results(out: Path) -> dict[str, tuple[str, str]]:
    """Test name -> (status, message) from Robot's output.xml."""
    from robot.api import ExecutionResult

    suite = ExecutionResult(str(out / "output.xml")).suite
    return {test.name: (test.status, test.message) for test in suite.all_tests}


def test_a_hung_board_is_detected_power_cycled_and_the_suite_goes_on(
        lab: tuple[Inventory, Path], tmp_path: Path) -> None:
    inv, inv_path = lab
    suite = tmp_path / "hang.robot"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    qemu = qemu_process(inv, BOARD)
    assert qemu is not None
    frozen_at: list[datetime] = []

    def freeze() -> None:
        time.sleep(4.0)  # the suite has taken the board and the SYNs are going out
        os.kill(qemu.pid, signal.SIGSTOP)
        frozen_at.append(datetime.now(UTC))

    proc = robot(inv_path, suite, out)
    freezer = threading.Thread(target=freeze)
    freezer.start()
    try:
        console, _ = proc.communicate(timeout=120)
    finally:
        freezer.join()
        if is_stopped(qemu.pid):
            os.kill(qemu.pid, signal.SIGCONT)
    print(console)
    found = results(out)
    status, message = found["Board Hangs During A Measurement"]
    assert status == "FAIL"
    assert f"DUT {BOARD} stopped answering" in message and "power-cycled" in message
    assert found["Board Answers After The Recovery"][0] == "PASS"
    recovery = json.loads(next((out / "parts").glob("recoveries-*.jsonl")).read_text())
    assert recovery["thawed"] is True
    detected_s = (datetime.fromisoformat(recovery["started_at"]) - frozen_at[0]).total_seconds()
    print(f"hang detected and power cycle started {detected_s:.1f} s after SIGSTOP; "
          f"booted again in {recovery['boot_s']} s")
    assert 0 < detected_s <= 10.0
    assert not is_stopped(qemu.pid)


def test_a_second_run_on_a_held_dut_fails_at_once_with_the_holder(
        lab: tuple[Inventory, Path], tmp_path: Path) -> None:
    inv, inv_path = lab
    suite = tmp_path / "busy.robot"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    with DutSession(inv, BOARD):
        started = time.monotonic()
        proc = robot(inv_path, suite, out)
        console, _ = proc.communicate(timeout=60)
        took_s = time.monotonic() - started
    print(console)
    assert proc.returncode != 0
    status, message = next(iter(results(out).values()))
    assert status == "FAIL"
    assert f"DUT {BOARD} is busy (held by pid {os.getpid()} since" in message
    assert took_s < 15.0
