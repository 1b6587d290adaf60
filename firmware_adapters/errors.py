"""Typed errors from a DUT and its console; each carries the console text behind it."""

from __future__ import annotations


class DutError(Exception):
    """Base class: something about a DUT went wrong."""

    def __init__(self, dut: str, message: str, console_text: str = ""):
        super().__init__(f"{dut}: {message}")
        self.dut = dut
        self.console_text = console_text


class ConsoleUnavailable(DutError):
    """The console cannot be opened (missing serial port, relay not running)."""


class ConsoleBusy(DutError):
    """Another client holds the console."""


class DutTimeout(DutError):
    """The DUT did not answer in time: it may hang. `console_text` is what it did say."""


class DutRejected(DutError):
    """The DUT answered ERR <code> <text>."""

    def __init__(self, dut: str, request: str, code: str, text: str, console_text: str = ""):
        super().__init__(dut, f"{request!r} failed: {code} {text}".rstrip(), console_text)
        self.code = code
        self.text = text


class ProtocolMismatch(DutError):
    """The DUT speaks another protocol version than the adapter."""
