"""Checks that need the whole inventory: lab ranges, unique names and addresses, adapters.

Each returns problems as (yaml_path, message) so the loader reports all of them at once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from bench.inventory.models import Inventory

Problem = tuple[str, str]


def _outside(address: ipaddress.IPv4Address, inv: Inventory) -> bool:
    return not any(address in net for net in inv.lab.allowed_ranges)


def _ranges(inv: Inventory) -> str:
    return ", ".join(str(net) for net in inv.lab.allowed_ranges)


def lab_ranges(inv: Inventory) -> Iterator[Problem]:
    """Every address the bench may talk to or from lies inside the declared lab ranges."""
    documentation = (
        ipaddress.IPv4Network("192.0.2.0/24"),
        ipaddress.IPv4Network("198.51.100.0/24"),
        ipaddress.IPv4Network("203.0.113.0/24"),
    )
    for i, net in enumerate(inv.lab.allowed_ranges):
        if not any(net.subnet_of(doc) for doc in documentation):
            yield (
                f"lab.allowed_ranges[{i}]",
                f"{net} is not a documentation range (192.0.2.0/24, 198.51.100.0/24, "
                "203.0.113.0/24): the bench never sends to real networks",
            )
    addresses = [
        ("bench.address", inv.bench.address.ip),
        ("bench.peer.address", inv.bench.peer.address),
    ]
    for i, dut in enumerate(inv.duts):
        addresses.append((f"duts[{i}].link.address", dut.link.address.ip))
        if dut.link.gateway is not None:
            addresses.append((f"duts[{i}].link.gateway", dut.link.gateway))
    for path, address in addresses:
        if _outside(address, inv):
            yield path, f"{address} is outside the lab ranges {_ranges(inv)}"


def unique_identities(inv: Inventory) -> Iterator[Problem]:
    """No two DUTs share a name, address or MAC; the peer owns its own address and MAC."""
    seen_names: dict[str, int] = {}
    seen_addr = {
        inv.bench.address.ip: "bench.address",
        inv.bench.peer.address: "bench.peer.address",
    }
    seen_mac = {inv.bench.mac: "bench.mac", inv.bench.peer.mac: "bench.peer.mac"}
    if inv.bench.peer.address == inv.bench.address.ip:
        yield "bench.peer.address", "the reference peer needs an address the bench kernel lacks"
    if inv.bench.peer.mac == inv.bench.mac:
        yield "bench.peer.mac", "the reference peer needs a MAC the bench kernel lacks"
    for i, dut in enumerate(inv.duts):
        if dut.name in seen_names:
            first = seen_names[dut.name]
            yield f"duts[{i}].name", f"duplicate DUT name {dut.name!r} (also duts[{first}])"
        seen_names.setdefault(dut.name, i)
        ip = dut.link.address.ip
        if ip in seen_addr:
            yield f"duts[{i}].link.address", f"{ip} is already used by {seen_addr[ip]}"
        seen_addr.setdefault(ip, f"duts[{i}].link.address")
        if dut.link.mac in seen_mac:
            owner = seen_mac[dut.link.mac]
            yield f"duts[{i}].link.mac", f"{dut.link.mac} is already used by {owner}"
        seen_mac.setdefault(dut.link.mac, f"duts[{i}].link.mac")


def consoles(inv: Inventory) -> Iterator[Problem]:
    """Hardware needs a console URL; simulations get theirs from the lab."""
    for i, dut in enumerate(inv.duts):
        if not dut.kind.simulated and dut.console.url is None:
            yield (
                f"duts[{i}].console.url",
                f"DUT {dut.name!r} of kind {dut.kind.value} has no console: give a serial "
                "port (/dev/ttyUSB0) or a pyserial URL (rfc2217://host:port)",
            )
        if dut.kind.simulated and dut.console.url is not None:
            yield (
                f"duts[{i}].console.url",
                f"DUT {dut.name!r} is simulated ({dut.kind.value}): the lab provides its console",
            )
        if dut.kind.value == "sim-qemu" and dut.firmware is None:
            yield f"duts[{i}].firmware", f"DUT {dut.name!r} (sim-qemu) needs a firmware variant"


def adapters(inv: Inventory) -> Iterator[Problem]:
    """Each DUT names a firmware adapter that exists."""
    from firmware_adapters import adapter_names

    known = adapter_names()
    for i, dut in enumerate(inv.duts):
        if dut.adapter not in known:
            yield (
                f"duts[{i}].adapter",
                f"unknown firmware adapter {dut.adapter!r} (known: {', '.join(known)})",
            )


def profiles(inv: Inventory) -> Iterator[Problem]:
    """Each DUT names a profile the bench ships."""
    from bench.profiles import profile_names

    known = profile_names()
    if not known:
        return
    for i, dut in enumerate(inv.duts):
        if dut.profile not in known:
            yield (
                f"duts[{i}].profile",
                f"unknown profile {dut.profile!r} (known: {', '.join(known)})",
            )


ALL_CHECKS = (lab_ranges, unique_identities, consoles, adapters, profiles)


def problems(inv: Inventory) -> list[Problem]:
    return [problem for check in ALL_CHECKS for problem in check(inv)]
