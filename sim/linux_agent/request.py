"""Request line parsing and typed argument checks; every failure is `ERR EINVAL`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .protocol import MAX_REQUEST_BYTES, ProtoError

RX_MODES = ("check", "discard", "echo", "hold")
UDP_MODES = ("echo", "count")
_TOKEN = re.compile(r"^[!-~]+$")


@dataclass(frozen=True)
class Request:
    """One parsed request: verb, positional words and `key=value` options."""

    verb: str
    args: tuple[str, ...] = ()
    opts: dict[str, str] = field(default_factory=dict)


def parse_request(raw: bytes) -> Request | None:
    """Parse one request line (without its `\\n`); None for an empty line (no reply)."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > MAX_REQUEST_BYTES:
        raise ProtoError("EINVAL", f"line longer than {MAX_REQUEST_BYTES} bytes")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise ProtoError("EINVAL", "non-ASCII request") from None
    words = text.replace("\t", " ").split(" ")
    words = [w for w in words if w]
    if not words:
        return None
    for word in words:
        if not _TOKEN.match(word):
            raise ProtoError("EINVAL", "control character in request")
    verb, *rest = words
    args: list[str] = []
    opts: dict[str, str] = {}
    for word in rest:
        key, sep, value = word.partition("=")
        if not sep:
            if opts:
                raise ProtoError("EINVAL", f"positional argument after options: {word}")
            args.append(word)
            continue
        if not key or not value:
            raise ProtoError("EINVAL", f"bad option {word}")
        if key in opts:
            raise ProtoError("EINVAL", f"option {key} given twice")
        opts[key] = value
    return Request(verb, tuple(args), opts)


def expect(req: Request, nargs: int | tuple[int, int], opts: tuple[str, ...] = ()) -> None:
    """Check the argument count and that only known options were given."""
    low, high = (nargs, nargs) if isinstance(nargs, int) else nargs
    if not low <= len(req.args) <= high:
        raise ProtoError("EINVAL", f"{req.verb}: wrong number of arguments")
    unknown = sorted(set(req.opts) - set(opts))
    if unknown:
        raise ProtoError("EINVAL", f"{req.verb}: unknown option {unknown[0]}")


def to_int(text: str, what: str, low: int, high: int) -> int:
    """A decimal integer within [low, high]."""
    if not text.isdigit() or len(text) > 20:
        raise ProtoError("EINVAL", f"{what} must be a decimal number")
    value = int(text)
    if not low <= value <= high:
        raise ProtoError("EINVAL", f"{what} out of range {low}..{high}")
    return value


def to_port(text: str, what: str = "port", allow_zero: bool = False) -> int:
    """A TCP/UDP port number."""
    return to_int(text, what, 0 if allow_zero else 1, 65535)


def to_conn_id(text: str) -> int:
    """A connection or listener id (small positive integer)."""
    return to_int(text, "id", 1, 2**31)


def to_ipv4(text: str, what: str = "addr") -> str:
    """A dotted-quad IPv4 address."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ProtoError("EINVAL", f"{what} is not an IPv4 address") from None


def to_ipv4_prefix(text: str) -> tuple[str, int]:
    """An `a.b.c.d/p` interface address."""
    addr, sep, plen = text.partition("/")
    if not sep:
        raise ProtoError("EINVAL", "addr must be a.b.c.d/prefix")
    return to_ipv4(addr), to_int(plen, "prefix length", 0, 32)


def to_mode(text: str, modes: tuple[str, ...] = RX_MODES) -> str:
    """One of the allowed receive modes."""
    if text not in modes:
        raise ProtoError("EINVAL", f"mode must be one of {'|'.join(modes)}")
    return text
