"""Parse the human units of impairment settings: '1%', '20ms', '100mbit', '64kb'.

One place for the grammar, so the CLI, rule files and the netem driver agree, and a bad
value fails with a message that names the value and the expected form.
"""

from __future__ import annotations

import re

_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

_TIME_MS = {"": 1.0, "ms": 1.0, "msec": 1.0, "s": 1000.0, "sec": 1000.0, "us": 0.001,
            "usec": 0.001, "ns": 1e-6}
# tc's convention: *bit is bits per second, *bps is BYTES per second.
_RATE_BPS = {"": 1, "bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000,
             "bps": 8, "kbps": 8_000, "mbps": 8_000_000, "gbps": 8_000_000_000}
_SIZE_BYTES = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2}


class UnitError(ValueError):
    """A setting that does not parse; the message is meant for the user as is."""


def _split(text: str, what: str, example: str) -> tuple[float, str]:
    match = re.fullmatch(_NUMBER + r"\s*([a-zA-Z%]*)", str(text).strip())
    if not match:
        raise UnitError(f"{text!r} is not a {what} (expected e.g. {example})")
    return float(match.group(1)), match.group(2).lower()


def parse_probability(text: str | float) -> float:
    """'1%' -> 0.01; a bare number is a fraction ('0.01'), so '1' means always."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        number, unit = _split(text, "percentage", "'1%' or '0.01'")
        if unit not in ("", "%"):
            raise UnitError(f"{text!r} is not a percentage (expected e.g. '1%' or '0.01')")
        value = number / 100.0 if unit == "%" else number
    if not 0.0 <= value <= 1.0:
        raise UnitError(f"{text!r} is not a probability between 0% and 100%")
    return value


def parse_duration_ms(text: str | float) -> float:
    """'20ms' -> 20.0, '1s' -> 1000.0, '500us' -> 0.5; a bare number is milliseconds."""
    if isinstance(text, int | float):
        return float(text)
    number, unit = _split(text, "duration", "'20ms', '1s' or '500us'")
    if unit not in _TIME_MS:
        raise UnitError(f"{text!r}: unknown time unit {unit!r} (use ms, s, us or ns)")
    return number * _TIME_MS[unit]


def parse_rate_bps(text: str | int) -> int:
    """'100mbit' -> 100_000_000 bit/s (tc units: 'kbps'/'mbps' are bytes per second)."""
    if isinstance(text, int):
        value = text
    else:
        number, unit = _split(text, "rate", "'100mbit' or '10kbit'")
        if unit not in _RATE_BPS:
            raise UnitError(f"{text!r}: unknown rate unit {unit!r} (use bit, kbit, mbit, gbit)")
        value = int(round(number * _RATE_BPS[unit]))
    if value <= 0:
        raise UnitError(f"{text!r} is not a positive rate")
    return value


def parse_size_bytes(text: str | int) -> int:
    """'64kb' -> 65536, '1500' -> 1500."""
    if isinstance(text, int):
        return text
    number, unit = _split(text, "size", "'1500' or '64kb'")
    if unit not in _SIZE_BYTES:
        raise UnitError(f"{text!r}: unknown size unit {unit!r} (use b, kb or mb)")
    return int(number * _SIZE_BYTES[unit])


def parse_limit(text: str) -> tuple[int | None, int | None]:
    """A queue limit: '100' is packets, '64kb' / '30000b' is bytes -> (packets, bytes)."""
    number, unit = _split(text, "queue limit", "'100' (packets) or '64kb'")
    if unit in ("", "p", "pkt", "packets"):
        if number < 1 or number != int(number):
            raise UnitError(f"{text!r} is not a whole number of packets")
        return int(number), None
    return None, parse_size_bytes(text)


def format_rate_bps(rate_bps: int) -> str:
    """The tc spelling of a rate (exact, so netem gets what the rules say)."""
    for unit, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if rate_bps % scale == 0:
            return f"{rate_bps // scale}{unit}"
    return f"{rate_bps}bit"
