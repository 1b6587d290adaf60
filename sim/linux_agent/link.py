"""The DUT's Ethernet link in its own namespace (pyroute2): read settings, change them."""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from .protocol import ProtoError

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
MAIN_TABLE = 254
PROTO_KERNEL = 2
SCOPE_LINK = 253

# Driver counters in link replies: protocol key -> IFLA_STATS64 key.
_STATS = (
    ("rx_frames", "rx_packets"),
    ("tx_frames", "tx_packets"),
    ("rx_bytes", "rx_bytes"),
    ("tx_bytes", "tx_bytes"),
    ("rx_errors", "rx_errors"),
    ("tx_errors", "tx_errors"),
    ("rx_dropped", "rx_dropped"),
    ("tx_dropped", "tx_dropped"),
    ("rx_fifo_full", "rx_fifo_errors"),
    ("rx_crc_errors", "rx_crc_errors"),
)


@dataclass(frozen=True)
class LinkChange:
    """What `link set` asked for; None means leave unchanged."""

    addr: tuple[str, int] | None = None
    mtu: int | None = None
    gw: str | None = None
    initcwnd: int | None = None


def _nl_error(exc: NetlinkError, what: str) -> ProtoError:
    code = "EINVAL" if exc.code in (errno.EINVAL, errno.ERANGE, errno.ENETUNREACH) else "EIO"
    return ProtoError(code, f"{what}: {exc}")


def _pick_link(ipr: IPRoute, ifname: str | None) -> dict:
    for link in ipr.get_links():
        if ifname is not None:
            if link.get("ifname") == ifname:
                return link
        elif not link["flags"] & IFF_LOOPBACK:
            return link
    raise ProtoError("EIO", f"no interface {ifname or '(non-loopback)'}")


def _ipv4_addr(ipr: IPRoute, index: int) -> tuple[str, int] | None:
    for msg in ipr.get_addr(family=socket.AF_INET, index=index):
        return msg.get("address"), msg["prefixlen"]
    return None


def _subnet_route(ipr: IPRoute, index: int, addr: tuple[str, int]) -> dict | None:
    net = ipaddress.IPv4Network(f"{addr[0]}/{addr[1]}", strict=False)
    for route in ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE):
        if (
            route["dst_len"] == net.prefixlen
            and route.get("dst") == str(net.network_address)
            and route.get("oif") == index
        ):
            return route
    return None


def _default_gw(ipr: IPRoute) -> str | None:
    for route in ipr.get_routes(family=socket.AF_INET, table=MAIN_TABLE):
        if route["dst_len"] == 0 and route.get("gateway"):
            return route.get("gateway")
    return None


def read_link(ifname: str | None) -> list[tuple[str, object]]:
    """The `link` reply fields of the agent's interface."""
    with IPRoute() as ipr:
        link = _pick_link(ipr, ifname)
        index = link["index"]
        addr = _ipv4_addr(ipr, index)
        out: list[tuple[str, object]] = [
            ("mac", link.get("address")),
            ("addr", f"{addr[0]}/{addr[1]}" if addr else "0.0.0.0/0"),
            ("mtu", link.get("mtu")),
            ("up", 1 if link["flags"] & IFF_UP else 0),
            ("ifname", link.get("ifname")),
        ]
        gw = _default_gw(ipr)
        if gw:
            out.append(("gw", gw))
        route = _subnet_route(ipr, index, addr) if addr else None
        metrics = route.get("metrics") if route else None
        if metrics is not None and metrics.get("RTAX_INITCWND"):
            out.append(("initcwnd", metrics.get("RTAX_INITCWND")))
        stats = link.get("stats64") or link.get("stats") or {}
        out += [(key, stats[src]) for key, src in _STATS if src in stats]
        return out


def apply_link(ifname: str | None, change: LinkChange) -> None:
    """Apply a `link set`: address first (it recreates the subnet route), then the rest."""
    with IPRoute() as ipr:
        link = _pick_link(ipr, ifname)
        index = link["index"]
        if change.addr is not None:
            _replace_addr(ipr, index, change.addr)
        if change.mtu is not None:
            try:
                ipr.link("set", index=index, mtu=change.mtu)
            except NetlinkError as exc:
                raise _nl_error(exc, "mtu") from None
            forget_path_mtus()
        if change.gw is not None:
            try:
                ipr.route("replace", dst="0.0.0.0/0", gateway=change.gw, oif=index)
            except NetlinkError as exc:
                raise _nl_error(exc, "gw") from None
        if change.initcwnd is not None:
            _set_initcwnd(ipr, index, change.initcwnd)


def forget_path_mtus() -> None:
    """Flush the namespace's route cache: path MTUs learned from ICMP (kept 600 s) must
    not outlive the experiment that taught them (`ip route flush cache`)."""
    with open("/proc/sys/net/ipv4/route/flush", "w", encoding="ascii") as flush:
        flush.write("1\n")


def _replace_addr(ipr: IPRoute, index: int, addr: tuple[str, int]) -> None:
    try:
        for msg in ipr.get_addr(family=socket.AF_INET, index=index):
            ipr.addr("del", index=index, address=msg.get("address"), prefixlen=msg["prefixlen"])
        ipr.addr("add", index=index, address=addr[0], prefixlen=addr[1])
    except NetlinkError as exc:
        raise _nl_error(exc, "addr") from None


def _set_initcwnd(ipr: IPRoute, index: int, initcwnd: int) -> None:
    addr = _ipv4_addr(ipr, index)
    if addr is None or _subnet_route(ipr, index, addr) is None:
        raise ProtoError("EINVAL", "initcwnd: the interface has no subnet route")
    net = ipaddress.IPv4Network(f"{addr[0]}/{addr[1]}", strict=False)
    try:
        ipr.route(
            "replace",
            dst=str(net),
            oif=index,
            table=MAIN_TABLE,
            proto=PROTO_KERNEL,
            scope=SCOPE_LINK,
            prefsrc=addr[0],
            metrics={"initcwnd": initcwnd} if initcwnd else None,
        )
    except NetlinkError as exc:
        raise _nl_error(exc, "initcwnd") from None
