"""The protocol's commands: one small handler per verb, registered by decorator.

A handler validates every argument before it touches the stack, returns its reply lines
(data lines, then exactly one final line) and reports failures as ProtoError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import sysctl
from .diag import format_endpoint
from .link import LinkChange, apply_link, read_link
from .protocol import (
    Pairs,
    ProtoError,
    chunk_pairs,
    data_line,
    err_line,
    fit_pairs,
    ok_line,
)
from .request import (
    UDP_MODES,
    Request,
    expect,
    parse_request,
    to_conn_id,
    to_int,
    to_ipv4,
    to_ipv4_prefix,
    to_mode,
    to_port,
)
from .snmp import read_tcp_counters

if TYPE_CHECKING:
    from .agent import Agent

Handler = Callable[["Agent", Request], list[str]]
HANDLERS: dict[str, Handler] = {}

DEFAULT_MODE = "discard"
DEFAULT_BACKLOG = 16
MAX_SEND_BYTES = 1 << 40


def command(verb: str) -> Callable[[Handler], Handler]:
    """Register a handler for `verb`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[verb] = fn
        return fn

    return register


def dispatch(agent: Agent, raw: bytes) -> list[str]:
    """Reply lines for one raw request line; [] for an empty line. Never raises."""
    try:
        req = parse_request(raw)
        if req is None:
            return []
        handler = HANDLERS.get(req.verb)
        if handler is None:
            raise ProtoError("EUNKNOWN", f"unknown command {req.verb}")
        return handler(agent, req)
    except ProtoError as exc:
        return [err_line(exc.code, exc.text)]
    except Exception as exc:  # a bug or an odd kernel answer must not kill the console
        return [err_line("EIO", f"internal error {type(exc).__name__}: {exc}")]


def _spread(verb: str, head: Pairs, more: Pairs) -> list[str]:
    """`head` on the final line, `more` (and any overflow) as data lines before it.

    Why: a reply line is limited to 511 bytes, and data lines may precede any reply.
    """
    fits, overflow = fit_pairs(head, f"OK {verb}")
    return [data_line(chunk) for chunk in chunk_pairs(overflow + more)] + [ok_line(verb, fits)]


@command("hello")
def _hello(agent: Agent, req: Request) -> list[str]:
    expect(req, 0)
    return [ok_line("hello", agent.identity())]


@command("consts")
def _consts(agent: Agent, req: Request) -> list[str]:
    expect(req, 0)
    head = list(sysctl.read_consts(sysctl.CONST_KEYS))
    if agent.stack.congestion is not None:  # what new connections really use
        head = [(k, agent.stack.congestion if k == "tcp_congestion_control" else v)
                for k, v in head]
    return _spread("consts", head, list(sysctl.read_consts(sysctl.MORE_CONST_KEYS)))


@command("set")
def _set(agent: Agent, req: Request) -> list[str]:
    expect(req, 2)
    key, value = req.args
    sysctl.settable_path(key)
    before = sysctl.read_sysctl(key)
    if key == "tcp_congestion_control":
        return [ok_line("set", [(key, _set_congestion(agent, value))])]
    after = sysctl.write_sysctl(key, value)
    agent.saved_sysctls.setdefault(key, before)
    return [ok_line("set", [(key, after)])]


def _set_congestion(agent: Agent, value: str) -> str:
    """The namespace default where the host allows it; otherwise every new socket gets
    it with TCP_CONGESTION (the agent has CAP_NET_ADMIN, which may pick any available)."""
    before = sysctl.read_sysctl("tcp_congestion_control")
    try:
        after = sysctl.write_sysctl("tcp_congestion_control", value)
    except ProtoError:
        available = sysctl.read_sysctl("tcp_available_congestion_control").split(",")
        if value not in available:
            raise ProtoError("EINVAL", f"congestion control {value} is not available "
                             f"(available: {' '.join(available)})") from None
        agent.stack.congestion = value
        return value
    agent.saved_sysctls.setdefault("tcp_congestion_control", before)
    agent.stack.congestion = None
    return after


@command("counters")
def _counters(agent: Agent, req: Request) -> list[str]:
    expect(req, 0)
    head, more = read_tcp_counters()
    return _spread("counters", list(head), list(more))


@command("link")
def _link(agent: Agent, req: Request) -> list[str]:
    if req.args and req.args[0] == "set":
        expect(req, 1, ("addr", "gw", "mtu", "initcwnd"))
        opts = req.opts
        change = LinkChange(
            addr=to_ipv4_prefix(opts["addr"]) if "addr" in opts else None,
            mtu=to_int(opts["mtu"], "mtu", 68, 65535) if "mtu" in opts else None,
            gw=to_ipv4(opts["gw"], "gw") if "gw" in opts else None,
            initcwnd=to_int(opts["initcwnd"], "initcwnd", 0, 1024) if "initcwnd" in opts else None,
        )
        apply_link(agent.ifname, change)
    else:
        expect(req, 0)
    return [ok_line("link", read_link(agent.ifname))]


@command("listen")
def _listen(agent: Agent, req: Request) -> list[str]:
    expect(req, 1, ("mode", "backlog"))
    port = to_port(req.args[0])
    mode = to_mode(req.opts.get("mode", DEFAULT_MODE))
    backlog = to_int(req.opts.get("backlog", str(DEFAULT_BACKLOG)), "backlog", 0, 65535)
    listener = agent.stack.listen(port, mode, backlog)
    return [ok_line("listen", [("lid", listener.lid), ("port", port)])]


@command("unlisten")
def _unlisten(agent: Agent, req: Request) -> list[str]:
    expect(req, 1)
    lid = to_conn_id(req.args[0])
    agent.stack.unlisten(lid)
    return [ok_line("unlisten", [("lid", lid)])]


@command("connect")
def _connect(agent: Agent, req: Request) -> list[str]:
    expect(req, 2, ("lport", "mode"))
    addr = to_ipv4(req.args[0])
    port = to_port(req.args[1])
    lport = to_port(req.opts["lport"], "lport") if "lport" in req.opts else None
    mode = to_mode(req.opts.get("mode", DEFAULT_MODE))
    conn = agent.stack.connect(addr, port, lport, mode)
    return [ok_line("connect", [("id", conn.id), ("local", format_endpoint(conn.local))])]


@command("send")
def _send(agent: Agent, req: Request) -> list[str]:
    expect(req, 2)
    cid = to_conn_id(req.args[0])
    nbytes = to_int(req.args[1], "nbytes", 1, MAX_SEND_BYTES)
    agent.stack.send(cid, nbytes)
    return [ok_line("send", [("id", cid), ("queued", nbytes)])]


@command("rx")
def _rx(agent: Agent, req: Request) -> list[str]:
    expect(req, 2)
    cid = to_conn_id(req.args[0])
    mode = to_mode(req.args[1])
    agent.stack.set_rx(cid, mode)
    return [ok_line("rx", [("id", cid), ("mode", mode)])]


@command("shutdown")
def _shutdown(agent: Agent, req: Request) -> list[str]:
    expect(req, 1)
    cid = to_conn_id(req.args[0])
    agent.stack.shutdown(cid)
    return [ok_line("shutdown", [("id", cid)])]


@command("close")
def _close(agent: Agent, req: Request) -> list[str]:
    expect(req, 1)
    cid = to_conn_id(req.args[0])
    agent.stack.close(cid)
    return [ok_line("close", [("id", cid)])]


@command("abort")
def _abort(agent: Agent, req: Request) -> list[str]:
    expect(req, 1)
    cid = to_conn_id(req.args[0])
    agent.stack.abort(cid)
    return [ok_line("abort", [("id", cid)])]


@command("stat")
def _stat(agent: Agent, req: Request) -> list[str]:
    expect(req, 1)
    return [ok_line("stat", agent.stack.stat(to_conn_id(req.args[0])))]


@command("conns")
def _conns(agent: Agent, req: Request) -> list[str]:
    expect(req, 0)
    lines = [data_line(items) for items in agent.stack.list_conns()]
    return lines + [ok_line("conns", [("n", len(lines))])]


@command("udp")
def _udp(agent: Agent, req: Request) -> list[str]:
    sub = req.args[0] if req.args else ""
    if sub == "bind":
        expect(req, 2, ("mode",))
        port = to_port(req.args[1])
        mode = to_mode(req.opts.get("mode", "count"), UDP_MODES)
        agent.stack.udp_bind(port, mode)
        return [ok_line("udp bind", [("port", port), ("mode", mode)])]
    if sub == "stat":
        expect(req, 2)
        udp = agent.stack.udp_port(to_port(req.args[1]))
        return [
            ok_line(
                "udp stat",
                [
                    ("port", udp.port),
                    ("rx_dgrams", udp.rx_dgrams),
                    ("rx_bytes", udp.rx_bytes),
                    ("tx_dgrams", udp.tx_dgrams),
                    ("mode", udp.mode),
                ],
            )
        ]
    raise ProtoError("EINVAL", "udp: expected bind or stat")


@command("reboot")
def _reboot(agent: Agent, req: Request) -> list[str]:
    expect(req, 0)
    agent.reboot()
    return [ok_line("reboot")]
