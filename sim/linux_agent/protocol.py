"""Reply, event and data line formatting for console protocol v1 (one place for framing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PROTO_VERSION = 1
MAX_REQUEST_BYTES = 255
MAX_REPLY_BYTES = 511  # including the "\n"
_MAX_TEXT = MAX_REPLY_BYTES - 1

ERROR_CODES = frozenset(
    {
        "EUNKNOWN",
        "EINVAL",
        "ENOENT",
        "EBUSY",
        "ENOMEM",
        "ETIMEDOUT",
        "ECONNREFUSED",
        "ECONNRESET",
        "ESTATE",
        "EIO",
    }
)

KvItems = Mapping[str, object] | Iterable[tuple[str, object]]


class ProtoError(Exception):
    """A request failed with a protocol error code; becomes one `ERR` line."""

    def __init__(self, code: str, text: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"not a protocol error code: {code}")
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


def _clean(text: str) -> str:
    """Printable ASCII only: a reply must never break the line framing."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return _clean(str(value)).replace(" ", ",") or "-"


def format_kv(items: KvItems) -> str:
    """`key=value key=value`: values never contain spaces (they become commas)."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return " ".join(f"{_clean(str(k))}={_value(v)}" for k, v in pairs)


def _join(*parts: str) -> str:
    """Join, keeping the line within the limit by dropping whole trailing `key=value`s."""
    line = " ".join(p for p in parts if p)
    while len(line) > _MAX_TEXT and " " in line:
        line = line[: line.rindex(" ", 0, _MAX_TEXT + 1)]
    return line[:_MAX_TEXT]


def ok_line(verb: str, items: KvItems = ()) -> str:
    """The final success reply for `verb`."""
    return _join("OK", _clean(verb), format_kv(items))


def err_line(code: str, text: str) -> str:
    """The final failure reply; `text` is free text to the end of the line."""
    return _join("ERR", code, _clean(text))


def evt_line(name: str, items: KvItems = ()) -> str:
    """An asynchronous event line."""
    return _join("EVT", name, format_kv(items))


def data_line(items: KvItems) -> str:
    """One listed item of a reply, sent before the final line."""
    return _join("-", format_kv(items))


Pairs = list[tuple[str, object]]


def fit_pairs(pairs: Pairs, prefix: str) -> tuple[Pairs, Pairs]:
    """Split `pairs` into the leading ones that fit one line after `prefix`, and the rest."""
    used = len(prefix)
    for i, pair in enumerate(pairs):
        used += 1 + len(format_kv([pair]))
        if used > _MAX_TEXT:
            return pairs[:i], pairs[i:]
    return pairs, []


def chunk_pairs(pairs: Pairs) -> list[Pairs]:
    """Cut `pairs` into groups that each fit one data line (`- k=v ...`)."""
    chunks: list[Pairs] = []
    while pairs:
        chunk, pairs = fit_pairs(pairs, "-")
        if not chunk:  # a single pair longer than a line: it will be cut, not loop forever
            chunk, pairs = pairs[:1], pairs[1:]
        chunks.append(chunk)
    return chunks
