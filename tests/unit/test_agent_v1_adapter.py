"""The v1 adapter against a pty test double that plays a DUT: replies, events between
requests, garbage, partial lines, and a DUT that hangs. Nothing read may be lost."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firmware_adapters import open_adapter
from firmware_adapters.errors import ConsoleUnavailable, DutRejected, DutTimeout
from firmware_adapters.protocol_v1 import classify

Script = Callable[[str], list[str]]


class FakeConsole:
    """A DUT double on the master side of a pty; `script` maps a request to output lines."""

    def __init__(self, script: Script):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self.script = script
        self.requests: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buf = b""
        while not self._stop:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                request = line.decode()
                self.requests.append(request)
                for out in self.script(request):
                    os.write(self.master, out.encode())

    def close(self) -> None:
        self._stop = True
        os.close(self._slave)
        os.close(self.master)


def dut_double(request: str) -> list[str]:
    verb = request.split()[0]
    if verb == "hello":
        return ["booting lwIP\r\n", "EVT boot name=fake proto=1\n",
                "OK hello name=fake proto=1 stack=lwip-2.1.3 build=b1\r\n"]
    if verb == "conns":
        return ["- id=1 state=ESTABLISHED local=192.0.2.20:7 remote=192.0.2.1:9 age_ms=5\n",
                "\x00\xffgarbage\n",
                "- id=0 state=TIME_WAIT local=192.0.2.20:7 remote=192.0.2.1:8\n",
                "OK conns n=2\n"]
    if verb == "stat":
        return ["ERR ENOENT no connection 9\n"]
    if verb == "connect":
        return ["OK con", "nect id=3\n", "EVT connected id=3 local=a remote=b\n"]
    if verb == "hang":
        return ["half a li"]
    return [f"ERR EUNKNOWN unknown command {verb}\n"]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeConsole, object, Path]]:
    console = FakeConsole(dut_double)
    log = tmp_path / "console.log"
    dut = open_adapter("agent-v1", "fake", console.path, log_path=log, timeout_s=1.0)
    yield console, dut, log
    dut.close()
    console.close()


def test_hello_skips_garbage_and_queues_event(fake) -> None:
    _, dut, _ = fake
    hello = dut.hello()
    assert (hello.name, hello.stack, hello.build) == ("fake", "lwip-2.1.3", "b1")
    assert dut.wait_event("boot", 0.1).fields["name"] == "fake"
    assert dut.garbage_lines == 1


def test_conns_collects_data_lines(fake) -> None:
    _, dut, _ = fake
    rows = dut.conns()
    assert [(c.id, c.state) for c in rows] == [(1, "ESTABLISHED"), (0, "TIME_WAIT")]
    assert rows[0].extra == {"age_ms": "5"}


def test_err_becomes_typed_exception_with_console_text(fake) -> None:
    _, dut, _ = fake
    with pytest.raises(DutRejected) as caught:
        dut.stat(9)
    assert caught.value.code == "ENOENT"
    assert "ERR ENOENT no connection 9" in caught.value.console_text


def test_reply_split_across_reads_and_event_after_it(fake) -> None:
    _, dut, _ = fake
    assert dut.connect("192.0.2.1", 5001) == 3
    assert dut.wait_event("connected", 1.0, id="3").fields["remote"] == "b"


def test_hung_dut_times_out_and_partial_output_is_logged(fake) -> None:
    _, dut, log = fake
    started = time.monotonic()
    with pytest.raises(DutTimeout) as caught:
        dut.request("hang", timeout_s=0.3)
    assert 0.25 < time.monotonic() - started < 1.0
    assert "half a li" in str(caught.value)
    text = log.read_text()
    assert "> hang" in text and "~ half a li" in text


def test_every_line_is_logged_with_timestamp(fake) -> None:
    _, dut, log = fake
    dut.hello()
    lines = log.read_text().splitlines()
    assert any(line.endswith("> hello") for line in lines)
    assert any(line.endswith("< booting lwIP") for line in lines)
    assert all(classify(line).kind for line in lines)
    assert all(line[:4].isdigit() and line[10] == "T" for line in lines)


def test_missing_serial_port_is_one_clear_error() -> None:
    with pytest.raises(ConsoleUnavailable) as caught:
        open_adapter("agent-v1", "board1", "/dev/ttyUSB-missing")
    assert str(caught.value).startswith("board1: cannot open console /dev/ttyUSB-missing")
    assert "\n" not in str(caught.value)
