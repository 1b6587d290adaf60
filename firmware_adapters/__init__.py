"""Firmware adapters: one module per console dialect, all behind firmware_adapters.dut.Dut.

Importing the package loads every built-in adapter module, whose @register decorators
fill the registry; a new dialect is one new module here and one import line below.
"""

from __future__ import annotations

from pathlib import Path

from firmware_adapters import agent_v1  # noqa: F401  (registers "agent-v1")
from firmware_adapters.console import ConsoleChannel, ConsoleLog
from firmware_adapters.dut import Dut
from firmware_adapters.registry import ADAPTERS


def adapter_names() -> list[str]:
    return sorted(ADAPTERS)


def open_adapter(dialect: str, dut: str, url: str, baud: int = 115200,
                 log_path: Path | None = None, timeout_s: float = 3.0) -> Dut:
    """Open `url` and wrap it in the adapter for `dialect`."""
    if dialect not in ADAPTERS:
        known = ", ".join(adapter_names())
        raise KeyError(f"unknown firmware adapter {dialect!r} (known: {known})")
    channel = ConsoleChannel(dut, url, baud, ConsoleLog(log_path))
    return ADAPTERS[dialect](dut, channel, timeout_s=timeout_s)
