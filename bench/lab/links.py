"""Interfaces of the lab: veth pairs, bridges, TAPs, addresses, MTU and offloads.

All through pyroute2 (netlink and ethtool ioctls), never by running `ip`, so errors come
back as exceptions with the kernel's errno instead of text to parse.
"""

from __future__ import annotations

import ipaddress
import os

from pyroute2 import IPRoute

from bench.lab import netns

# Features that make raw-socket tools see super-frames or unfilled checksums.
_OFFLOADS = (
    "tx-checksum-ip-generic",
    "tx-checksum-ipv4",
    "tx-scatter-gather",
    "tx-tcp-segmentation",
    "tx-tcp-ecn-segmentation",
    "tx-tcp-mangleid-segmentation",
    "tx-tcp6-segmentation",
    "tx-generic-segmentation",
    "tx-udp-segmentation",
    "rx-gro",
    "rx-gro-list",
    "rx-udp-gro-forwarding",
    "rx-checksum",
)


def _index(ipr: IPRoute, ifname: str) -> int:
    found = ipr.link_lookup(ifname=ifname)
    if not found:
        raise LookupError(f"interface {ifname} not found")
    return found[0]


def keep_flow_order(ns: str, ifname: str) -> None:
    """Frames arriving on `ifname` are steered by flow to one CPU (RPS over all CPUs).

    A veth queues a frame on the backlog of the CPU that sent it: when a sender (a DUT's
    TCP, the impairment bridge, the peer) changes CPU mid-burst and one CPU's backlog
    waits for ksoftirqd, later frames overtake earlier ones. A wire never reorders; a
    loaded lab did (a Linux DUT then resent segments at 0 % loss). Set it only where a
    process sends into the lab: steering costs a cross-CPU wake-up, which must not land
    between a frame's arrival at the peer and its kernel timestamp's consumer."""
    netns.sysfs_write_in(
        ns, lambda sys_root: sorted((sys_root / "class/net" / ifname / "queues").glob(
            "rx-*/rps_cpus")),
        cpu_mask(os.cpu_count() or 1))


def cpu_mask(cpus: int) -> str:
    """A mask of CPUs 0..cpus-1 as the kernel writes one: hex, 32-bit words by commas."""
    digits = f"{(1 << cpus) - 1:x}"
    digits = digits.zfill(-(-len(digits) // 8) * 8) if len(digits) > 8 else digits
    return ",".join(digits[i:i + 8] for i in range(0, len(digits), 8))


def has_link(ns: str, ifname: str) -> bool:
    """True when `ifname` exists in namespace `ns`."""
    with IPRoute(netns=ns) as ipr:
        return bool(ipr.link_lookup(ifname=ifname))


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str, mtu: int = 1500) -> None:
    """A veth pair with one end in each namespace; both ends up."""
    if has_link(ns_a, name_a):
        return
    with IPRoute(netns=ns_a) as ipr:
        peer: dict[str, object] = {"ifname": name_b}
        if ns_b != ns_a:
            peer["net_ns_fd"] = ns_b
        ipr.link("add", ifname=name_a, kind="veth", peer=peer)
    set_mtu(ns_a, name_a, mtu)
    set_mtu(ns_b, name_b, mtu)
    for ns, name in ((ns_a, name_a), (ns_b, name_b)):
        offloads_off(ns, name)
        up(ns, name)


def bridge(ns: str, name: str) -> None:
    """A learning bridge with STP off and no forwarding delay (ports forward at once)."""
    with IPRoute(netns=ns) as ipr:
        if not ipr.link_lookup(ifname=name):
            ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
    up(ns, name)


def tap(ns: str, name: str, mtu: int = 1500) -> None:
    """A persistent TAP device for an emulated board (QEMU opens it by name)."""
    with IPRoute(netns=ns) as ipr:
        if not ipr.link_lookup(ifname=name):
            ipr.link("add", ifname=name, kind="tuntap", mode="tap")
    set_mtu(ns, name, mtu)
    offloads_off(ns, name)
    up(ns, name)


def enslave(ns: str, port: str, bridge_name: str) -> None:
    """Attach `port` to `bridge_name` (both in `ns`)."""
    with IPRoute(netns=ns) as ipr:
        ipr.link("set", index=_index(ipr, port), master=_index(ipr, bridge_name))


def up(ns: str, ifname: str) -> None:
    with IPRoute(netns=ns) as ipr:
        ipr.link("set", index=_index(ipr, ifname), state="up")


def set_mtu(ns: str, ifname: str, mtu: int) -> None:
    with IPRoute(netns=ns) as ipr:
        ipr.link("set", index=_index(ipr, ifname), mtu=mtu)


def set_mac(ns: str, ifname: str, mac: str) -> None:
    with IPRoute(netns=ns) as ipr:
        ipr.link("set", index=_index(ipr, ifname), address=mac)


def add_address(ns: str, ifname: str, interface: str) -> None:
    """Assign `interface` (e.g. '192.0.2.1/24'); harmless when already there."""
    iface = ipaddress.IPv4Interface(interface)
    with IPRoute(netns=ns) as ipr:
        index = _index(ipr, ifname)
        present = {a.get("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=2)}
        if str(iface.ip) not in present:
            ipr.addr("add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)


def loopback_up(ns: str) -> None:
    up(ns, "lo")


def offloads_off(ns: str, ifname: str) -> None:
    """Turn off segmentation, GRO and checksum offloads so frames on the wire are real."""

    def apply() -> None:
        from pyroute2.ethtool import Ethtool

        eth = Ethtool()
        try:
            features = eth.get_features(ifname)
            for name, feature in features.features.items():
                if name in _OFFLOADS and feature.available:
                    feature.enable = False
            eth.set_features(ifname, features)
        finally:
            eth.close()

    netns.run_in(ns, apply)


def link_names(ns: str) -> list[str]:
    """Interface names in namespace `ns` (for `lab status`)."""
    with IPRoute(netns=ns) as ipr:
        return [link.get("ifname") for link in ipr.get_links()]
