"""A generic SCPI bench supply over pyvisa (Rigol DP800 / Keysight E36300 dialect).

Channel convention: `INST:NSEL <n>` selects the channel, then `VOLT`, `CURR`, `OUTP`,
`MEAS:*` act on it. The selection is instrument state, so it is re-sent inside every
locked transaction rather than assumed.

Every setter is followed by `SYST:ERR?` and a read-back: a rejected or silently clamped
setpoint raises `SetpointRejected`, and no reply meant for it (pyvisa-sim answers
"ERROR" in the read buffer) is left behind for the next query.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time

import pyvisa
from pyvisa.resources import MessageBasedResource

from bench.inventory.models import Power
from bench.power.base import ContextManaged, SetpointRejected, SupplyError, register_driver

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 2000
# A read-back within this of the setpoint is "what we asked for" (1 mV / 1 mA
# resolution supplies round; a clamp or a rejection is far larger).
SETPOINT_TOLERANCE = 0.0105
_ERROR_REPLY = re.compile(r"^\s*([+-]?\d+)\s*,\s*(.*?)\s*$")
# Bounds the reads spent skipping stale replies and draining the error queue.
_MAX_STALE_LINES = 16

_instrument_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def _instrument_lock(resource: str) -> threading.RLock:
    """One lock per instrument: two channels of one supply share its selection state."""
    try:  # "TCPIP::h::INSTR" and "TCPIP0::h::inst0::INSTR" are one instrument
        key = str(pyvisa.rname.parse_resource_name(resource))
    except pyvisa.rname.InvalidResourceName:
        key = resource
    with _locks_guard:
        return _instrument_locks.setdefault(key, threading.RLock())


def scpi_number(value: float) -> str:
    """Always with a decimal point: some parsers (pyvisa-sim's too) reject a bare `5`."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return f"{number:.3f}"


@register_driver("scpi")
class ScpiSupply(ContextManaged):
    """One channel of a SCPI supply; `open()` applies the inventory's setpoints."""

    def __init__(
        self,
        power: Power,
        resource_manager: str | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.power = power
        self.resource_manager = resource_manager
        self.timeout_ms = timeout_ms
        self.identity: str | None = None
        self._inst: MessageBasedResource | None = None
        self._lock = _instrument_lock(power.resource)

    @property
    def where(self) -> str:
        return f"{self.power.resource} ch{self.power.channel}"

    # --- life cycle

    def open(self) -> None:
        """Connect, identify, check the channel exists, apply voltage and current limit."""
        if self._inst is not None:
            return
        try:
            rm = (
                pyvisa.ResourceManager(self.resource_manager)
                if self.resource_manager
                else pyvisa.ResourceManager()
            )
            inst = rm.open_resource(
                self.power.resource,
                read_termination="\n",
                write_termination="\n",
                timeout=self.timeout_ms,
            )
        except (pyvisa.Error, OSError, ValueError) as exc:
            self.close()
            raise SupplyError(f"{self.where}: cannot open: {_one_line(exc)}") from exc
        if not isinstance(inst, MessageBasedResource):
            self.close()
            raise SupplyError(f"{self.where}: not a message-based (SCPI) instrument")
        self._inst = inst
        try:
            with self._lock:
                # Errors first: SYST:ERR? replies have a shape, so stale replies that an
                # earlier session left in the read buffer are recognised and skipped.
                for stale in self._drain_errors():
                    log.info("%s: left by an earlier session: %s", self.where, stale)
                self.identity = self._query_raw("*IDN?")
                self._write_checked(f"INST:NSEL {self.power.channel}", "channel selection")
            self.set_voltage(self.power.voltage_v)
            self.set_current_limit(self.power.current_limit_a)
        except SupplyError:
            self.close()
            raise

    def close(self) -> None:
        """Release the VISA session; the output stays as it is (closing is not `off`).

        The resource manager stays open: pyvisa hands every caller of one VISA library
        the same manager, and closing it would close every other supply's session too."""
        inst = self._inst
        self._inst = None
        if inst is not None:
            try:
                inst.close()
            except (pyvisa.Error, OSError) as exc:
                log.debug("%s: close: %s", self.where, exc)

    # --- the power interface

    def on(self) -> None:
        self._set_output(True)

    def off(self) -> None:
        self._set_output(False)

    def cycle(self, off_s: float = 1.0) -> None:
        """Off, wait, on; the lock is not held while waiting so sampling goes on."""
        self.off()
        time.sleep(off_s)
        self.on()

    def is_on(self) -> bool:
        reply = self._query("OUTP?").upper()
        if reply in ("ON", "1"):
            return True
        if reply in ("OFF", "0"):
            return False
        raise SupplyError(f"{self.where}: OUTP? answered {reply!r}, not ON/OFF/1/0")

    def measure_current_a(self) -> float:
        return self._query_float("MEAS:CURR?")

    def measure_voltage_v(self) -> float:
        return self._query_float("MEAS:VOLT?")

    def set_voltage(self, volts: float) -> None:
        self._set_checked("voltage", "VOLT", "V", volts)

    def set_current_limit(self, amps: float) -> None:
        self._set_checked("current limit", "CURR", "A", amps)

    # --- SCPI transactions

    def _set_output(self, enabled: bool) -> None:
        state = "ON" if enabled else "OFF"
        with self._lock:
            self._select()
            self._write_checked(f"OUTP {state}", f"output {state}")

    def _set_checked(self, what: str, header: str, unit: str, value: float) -> None:
        try:
            text = scpi_number(value)
        except (TypeError, ValueError) as exc:
            raise SetpointRejected(f"{self.where}: {what} {value!r}: {exc}") from None
        with self._lock:
            self._select()
            self._write_checked(f"{header} {text}", f"{what} {text} {unit}")
            readback = self._float(self._query_raw(f"{header}?"), f"{header}?")
        if abs(readback - float(text)) > SETPOINT_TOLERANCE:
            raise SetpointRejected(
                f"{self.where}: {what} {text} {unit} not taken: the supply reads back "
                f"{readback} {unit}"
            )

    def _query(self, command: str) -> str:
        with self._lock:
            self._select()
            return self._query_raw(command)

    def _query_float(self, command: str) -> float:
        return self._float(self._query(command), command)

    def _float(self, reply: str, command: str) -> float:
        try:
            return float(reply)
        except ValueError:
            raise SupplyError(f"{self.where}: {command} answered {reply!r}, not a number") from None

    def _select(self) -> None:
        # Checked once in open(); re-sent unchecked so a reading costs one round trip more.
        self._write_raw(f"INST:NSEL {self.power.channel}")

    def _write_checked(self, command: str, what: str) -> None:
        """Write, then make sure the supply took it and nothing is left to read."""
        self._write_raw(command)
        code, message, stale = self._next_error()
        if code != 0 or stale:
            self._drain_errors()
            reason = f"{code},{message}" if code != 0 else f"it answered {stale[0]!r}"
            raise SetpointRejected(f"{self.where}: {what} rejected: {reason}")

    def _next_error(self) -> tuple[int, str, list[str]]:
        """SYST:ERR?, skipping replies a rejected command left in the read buffer."""
        self._write_raw("SYST:ERR?")
        stale: list[str] = []
        for _ in range(_MAX_STALE_LINES):
            line = self._read_raw("SYST:ERR?")
            match = _ERROR_REPLY.match(line)
            if match:
                return int(match.group(1)), match.group(2), stale
            stale.append(line)
        raise SupplyError(
            f"{self.where}: SYST:ERR? never answered an error code (got {stale[:3]!r} ...)"
        )

    def _drain_errors(self) -> list[str]:
        """Empty the error queue so the next setter is not blamed for older errors."""
        drained: list[str] = []
        for _ in range(_MAX_STALE_LINES):
            code, message, stale = self._next_error()
            drained.extend(stale)
            if code == 0:
                return drained
            drained.append(f"{code},{message}")
        return drained

    def _query_raw(self, command: str) -> str:
        self._write_raw(command)
        return self._read_raw(command)

    def _write_raw(self, command: str) -> None:
        inst = self._require_open()
        try:
            inst.write(command)
        except (pyvisa.Error, OSError) as exc:
            raise SupplyError(f"{self.where}: write {command!r}: {_one_line(exc)}") from exc

    def _read_raw(self, command: str) -> str:
        inst = self._require_open()
        try:
            reply = inst.read().strip()
        except pyvisa.VisaIOError as exc:
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise SupplyError(
                    f"{self.where}: no answer to {command!r} within {self.timeout_ms} ms"
                ) from exc
            raise SupplyError(f"{self.where}: read {command!r}: {_one_line(exc)}") from exc
        except (pyvisa.Error, OSError) as exc:
            raise SupplyError(f"{self.where}: read {command!r}: {_one_line(exc)}") from exc
        if not reply:
            raise SupplyError(f"{self.where}: empty answer to {command!r}")
        return reply

    def _require_open(self) -> MessageBasedResource:
        if self._inst is None:
            raise SupplyError(f"{self.where}: not open (call open() first)")
        return self._inst


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
