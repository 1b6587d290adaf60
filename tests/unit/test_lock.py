"""DUT locks: exclusive, name their holder, and die with the holding process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.lock import Busy, ResourceLock


def test_second_holder_is_refused_with_holder_named(tmp_path: Path) -> None:
    with ResourceLock("dut-x", tmp_path):
        with pytest.raises(Busy) as caught:
            ResourceLock("dut-x", tmp_path).acquire()
    assert f"dut-x is busy (held by pid {os.getpid()} since " in str(caught.value)
    with ResourceLock("dut-x", tmp_path):  # released: free again
        pass


def test_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from bench.lock import ResourceLock; "
        f"lock = ResourceLock('dut-y', Path({str(tmp_path)!r})); lock.acquire(); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Busy):
        ResourceLock("dut-y", tmp_path).acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    time.sleep(0.05)
    with ResourceLock("dut-y", tmp_path):
        pass
