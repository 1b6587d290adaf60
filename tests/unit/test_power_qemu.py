"""The `qemu-qmp` power driver's QMP exchange, against a fake QMP server thread.

A fake is acceptable here only because QEMU itself is exercised for real by the lab
tests that boot the mps2-lwip board; this test pins the wire exchange (greeting,
`qmp_capabilities`, command, events before the reply, errors), one connection per
command like the driver makes.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from bench.inventory.models import Power
from bench.power import CurrentSampler, Supply, SupplyError, open_supply, power_cycle
from bench.power.qemu_reset import QmpSession

GREETING = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 8}}, "capabilities": []}}


class FakeQmp:
    """Serves QMP on a unix socket: run state, reset, events; records every command."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.running = True
        self.commands: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(4)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._server.close()
        self._thread.join(2)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                self._session(stream)

    def _session(self, stream: BinaryIO) -> None:
        self._send(stream, GREETING)
        negotiated = False
        for line in stream:
            command = json.loads(line)["execute"]
            self.commands.append(command)
            if not negotiated and command != "qmp_capabilities":
                self._send(stream, _error("CommandNotFound", "Expecting capabilities"))
                continue
            negotiated = True
            for message in self._answer(command):
                self._send(stream, message)

    def _answer(self, command: str) -> list[dict]:
        """Replies in QEMU's order: events may come before or after the return."""
        if command == "qmp_capabilities":
            return [{"return": {}}]
        if command == "stop":
            self.running = False
            return [_event("STOP"), {"return": {}}]
        if command == "cont":
            self.running = True
            return [_event("RESUME"), {"return": {}}]
        if command == "system_reset":
            return [{"return": {}}, _event("RESET", reason="host-qmp-system-reset")]
        if command == "query-status":
            status = "running" if self.running else "paused"
            return [{"return": {"status": status, "singlestep": False, "running": self.running}}]
        return [_error("CommandNotFound", f"The command {command} has not been found")]

    @staticmethod
    def _send(stream: BinaryIO, message: dict) -> None:
        stream.write(json.dumps(message).encode() + b"\r\n")
        stream.flush()


def _event(name: str, **data: object) -> dict:
    return {"event": name, "data": data, "timestamp": {"seconds": 1, "microseconds": 0}}


def _error(error_class: str, desc: str) -> dict:
    return {"error": {"class": error_class, "desc": desc}}


@pytest.fixture
def qmp() -> Iterator[FakeQmp]:
    # Not tmp_path: a unix socket path must stay under 108 bytes.
    with tempfile.TemporaryDirectory(prefix="hb-qmp-") as folder:
        fake = FakeQmp(str(Path(folder) / "dut.qmp.sock"))
        yield fake
        fake.close()


@pytest.fixture
def board(qmp: FakeQmp) -> Iterator[Supply]:
    supply = open_supply(Power(resource=f"qmp:{qmp.path}", driver="qemu-qmp"))
    yield supply
    supply.close()


def test_off_on_map_to_stop_and_cont(board: Supply, qmp: FakeQmp) -> None:
    qmp.commands.clear()
    assert board.is_on()
    board.off()
    assert not board.is_on() and not qmp.running
    board.on()
    assert board.is_on()
    assert [c for c in qmp.commands if c != "qmp_capabilities"] == [
        "query-status",
        "stop",
        "query-status",
        "cont",
        "query-status",
    ]


def test_cycle_resets_and_ends_running(board: Supply, qmp: FakeQmp) -> None:
    board.off()
    qmp.commands.clear()
    board.cycle(off_s=0.01)
    assert qmp.commands == ["qmp_capabilities", "stop", "qmp_capabilities", "system_reset", "cont"]
    assert board.is_on()


def test_power_cycle_record_has_no_current_for_an_emulated_board(board: Supply) -> None:
    record = power_cycle(board, off_s=0.01, settle_s=0.0)
    assert record.is_on_after
    assert record.current_before_a is None and record.current_after_a is None
    assert board.measure_voltage_v() is None
    board.set_voltage(3.3)  # accepted and ignored: there is no rail
    sampler = CurrentSampler(board, interval_ms=5).start()
    assert sampler.stop() == [] and sampler.error is None


def test_a_qmp_error_is_a_supply_error_naming_the_socket(qmp: FakeQmp) -> None:
    with QmpSession(qmp.path) as session, pytest.raises(SupplyError) as caught:
        session.execute("no-such-command")
    assert str(caught.value) == (
        f"qmp:{qmp.path}: no-such-command failed: CommandNotFound: "
        "The command no-such-command has not been found"
    )


def test_a_missing_socket_or_a_bad_resource_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SupplyError, match="cannot connect"):
        open_supply(Power(resource=f"qmp:{tmp_path}/none.sock", driver="qemu-qmp"))
    with pytest.raises(SupplyError, match=r"'/run/x.sock' is not a QMP socket"):
        open_supply(Power(resource="/run/x.sock", driver="qemu-qmp"))
