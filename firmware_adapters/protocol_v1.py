"""Protocol v1 line grammar (docs/console-protocol.md): classify and parse one line.

Pure functions, no I/O: the adapter feeds them whatever the console produced, including
garbage, so they must accept any text and never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 255

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_CODE = re.compile(r"^E[A-Z]+$")
_VERB = re.compile(r"^[a-z_]+$")


class LineKind(StrEnum):
    OK = "ok"
    ERR = "err"
    EVENT = "event"
    DATA = "data"
    GARBAGE = "garbage"


@dataclass(frozen=True)
class Line:
    """One classified console line."""

    kind: LineKind
    raw: str
    name: str = ""  # OK: the verb; ERR: the code; EVT: the event name
    fields: dict[str, str] = field(default_factory=dict)
    text: str = ""  # ERR: free text


def parse_kv(tokens: list[str]) -> dict[str, str] | None:
    """key=value tokens into a dict; None when a token is not key=value."""
    out: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not _KEY.match(key):
            return None
        out[key] = value
    return out


def classify(raw: str) -> Line:
    """Classify one line (without its newline) as reply, event, data or garbage."""
    text = raw.rstrip("\r")
    tokens = text.split()
    if not tokens:
        return Line(LineKind.GARBAGE, raw)
    head = tokens[0]
    if head == "OK" and len(tokens) >= 2 and _VERB.match(tokens[1]):
        rest = tokens[2:]
        if rest and "=" not in rest[0] and _VERB.match(rest[0]):
            rest = rest[1:]  # a sub-verb: "OK udp bind port=7"
        fields = parse_kv(rest)
        if fields is not None:
            return Line(LineKind.OK, raw, tokens[1], fields)
    elif head == "ERR" and len(tokens) >= 2 and _CODE.match(tokens[1]):
        rest = text.split(None, 2)
        return Line(LineKind.ERR, raw, tokens[1], {}, rest[2] if len(rest) > 2 else "")
    elif head == "EVT" and len(tokens) >= 2 and _VERB.match(tokens[1]):
        fields = parse_kv(tokens[2:])
        if fields is not None:
            return Line(LineKind.EVENT, raw, tokens[1], fields)
    elif head == "-":
        fields = parse_kv(tokens[1:])
        if fields is not None:
            return Line(LineKind.DATA, raw, "", fields)
    return Line(LineKind.GARBAGE, raw)


def format_request(verb: str, *args: object, **options: object) -> str:
    """One request line; refuses what the DUT could not parse (spaces, overlong)."""
    parts = [verb, *(str(a) for a in args)]
    parts += [f"{k}={v}" for k, v in options.items() if v is not None]
    for part in parts:
        if not part or not part.isascii() or not part.isprintable() or " " in part:
            raise ValueError(f"request argument {part!r} is empty, not printable ASCII, "
                             "or contains white space")
    line = " ".join(parts)
    if len(line.encode()) > MAX_REQUEST_BYTES:
        raise ValueError(f"request longer than {MAX_REQUEST_BYTES} bytes: {line[:40]}...")
    return line
