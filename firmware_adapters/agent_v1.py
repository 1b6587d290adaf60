"""Adapter for DUTs that speak the bench agent protocol v1 natively (lwIP firmware, the
Linux host agent, any board whose firmware embeds the agent)."""

from __future__ import annotations

import time
from collections import deque

from firmware_adapters.console import ConsoleChannel
from firmware_adapters.dut import Connection, Event, Hello
from firmware_adapters.errors import DutRejected, DutTimeout, ProtocolMismatch
from firmware_adapters.protocol_v1 import PROTOCOL_VERSION, LineKind, classify, format_request
from firmware_adapters.registry import register


@register("agent-v1")
class AgentV1:
    """DUT interface over protocol v1: one request, one final reply, events queued."""

    def __init__(self, name: str, channel: ConsoleChannel, timeout_s: float = 3.0):
        self.name = name
        self.channel = channel
        self.timeout_s = timeout_s
        self.events: deque[Event] = deque()
        self.garbage_lines = 0

    # -- transport -----------------------------------------------------------------
    def _consume(self, line: str) -> tuple[LineKind, object]:
        parsed = classify(line)
        if parsed.kind is LineKind.EVENT:
            self.events.append(Event(parsed.name, parsed.fields, time.monotonic(), line))
        elif parsed.kind is LineKind.GARBAGE:
            self.garbage_lines += 1
        return parsed.kind, parsed

    def request(self, verb: str, *args: object, timeout_s: float | None = None,
                **options: object) -> tuple[dict[str, str], list[dict[str, str]]]:
        """Send one request; return the OK fields and any data lines, or raise."""
        line = format_request(verb, *args, **options)
        self.channel.write_line(line)
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        seen: list[str] = []
        data: list[dict[str, str]] = []
        while True:
            text = self.channel.read_line(deadline)
            if text is None:
                said = "\n".join(seen + [self.channel.pending_text()]).strip()
                raise DutTimeout(
                    self.name,
                    f"no reply to {line!r} within {timeout_s or self.timeout_s:.1f} s "
                    f"(the DUT may hang; console said: {said[-200:] or 'nothing'})",
                    said,
                )
            seen.append(text)
            kind, parsed = self._consume(text)
            if kind is LineKind.DATA:
                data.append(parsed.fields)  # type: ignore[attr-defined]
            elif kind is LineKind.OK and parsed.name == verb:  # type: ignore[attr-defined]
                return parsed.fields, data  # type: ignore[attr-defined]
            elif kind is LineKind.ERR:
                raise DutRejected(self.name, line, parsed.name, parsed.text,  # type: ignore[attr-defined]
                                  "\n".join(seen))

    def wait_event(self, name: str, timeout_s: float, **match: str) -> Event:
        """The first queued or arriving event `name` whose fields include `match`."""
        deadline = time.monotonic() + timeout_s

        def matches(event: Event) -> bool:
            return event.name == name and all(event.fields.get(k) == str(v)
                                               for k, v in match.items())

        while True:
            for event in list(self.events):
                if matches(event):
                    self.events.remove(event)
                    return event
            text = self.channel.read_line(deadline)
            if text is None:
                wanted = " ".join([name, *(f"{k}={v}" for k, v in match.items())])
                raise DutTimeout(self.name, f"no 'EVT {wanted}' within {timeout_s:.1f} s")
            self._consume(text)

    # -- the DUT interface -----------------------------------------------------------
    def hello(self) -> Hello:
        fields, _ = self.request("hello")
        try:
            proto = int(fields.get("proto", "0"))
        except ValueError:
            proto = 0
        if proto != PROTOCOL_VERSION:
            raise ProtocolMismatch(self.name, f"speaks protocol {fields.get('proto')!r}, "
                                              f"the adapter speaks {PROTOCOL_VERSION}")
        return Hello(fields.get("name", "?"), proto, fields.get("stack", "?"),
                     fields.get("build", "?"))

    def _merged(self, verb: str) -> dict[str, str]:
        """Replies too long for one line continue in `- key=value` data lines."""
        fields, rows = self.request(verb)
        merged: dict[str, str] = {}
        for row in rows:
            merged.update(row)
        merged.update(fields)
        return merged

    def consts(self) -> dict[str, str]:
        return self._merged("consts")

    def set_const(self, key: str, value: str) -> None:
        self.request("set", key, value)

    def link(self) -> dict[str, str]:
        return self.request("link")[0]

    def link_set(self, **settings: object) -> dict[str, str]:
        return self.request("link", "set", **settings)[0]

    def listen(self, port: int, mode: str = "check", backlog: int | None = None) -> int:
        return int(self.request("listen", port, mode=mode, backlog=backlog)[0]["lid"])

    def unlisten(self, lid: int) -> None:
        self.request("unlisten", lid)

    def connect(self, address: str, port: int, lport: int | None = None,
                mode: str | None = None) -> int:
        return int(self.request("connect", address, port, lport=lport, mode=mode)[0]["id"])

    def send(self, cid: int, nbytes: int) -> None:
        self.request("send", cid, nbytes)

    def rx_mode(self, cid: int, mode: str) -> None:
        self.request("rx", cid, mode)

    def shutdown(self, cid: int) -> None:
        self.request("shutdown", cid)

    def close_conn(self, cid: int) -> None:
        self.request("close", cid)

    def abort(self, cid: int) -> None:
        self.request("abort", cid)

    def stat(self, cid: int) -> dict[str, str]:
        return self.request("stat", cid)[0]

    def conns(self) -> list[Connection]:
        _, rows = self.request("conns")
        out = []
        for row in rows:
            extra = {k: v for k, v in row.items() if k not in ("id", "state", "local", "remote")}
            try:
                cid = int(row.get("id", "0"))
            except ValueError:
                cid = 0
            out.append(Connection(cid, row.get("state", "?"), row.get("local", "?"),
                                  row.get("remote", "?"), extra))
        return out

    def counters(self) -> dict[str, str]:
        return self._merged("counters")

    def reboot(self, timeout_s: float = 10.0) -> Hello:
        self.events.clear()
        self.request("reboot")
        event = self.wait_event("boot", timeout_s)
        return Hello(event.fields.get("name", "?"), int(event.fields.get("proto", "0") or 0),
                     event.fields.get("stack", "?"), event.fields.get("build", "?"))

    def close(self) -> None:
        self.channel.close()
