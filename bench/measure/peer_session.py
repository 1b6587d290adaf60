"""Open the reference peer (bench.model.Peer) where every measurement uses it: in the
lab's bench namespace `<prefix>bench`, on the inventory's bench.peer interface, with its
address and MAC, recording a pcapng in the folder the caller names."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.inventory.models import Inventory
from bench.model import ConnOptions, Peer


def dut_ip(inv: Inventory, name: str) -> str:
    """The DUT's lab address (without the prefix length)."""
    return str(inv.dut(name).link.address.ip)


def lab_options(inv: Inventory, measurement: Callable[..., Any]) -> dict[str, Any]:
    """What the lab itself gives a measurement: the impairment bridge's control socket
    to one that takes `impair_control` (the socket lives in the lab's state dir)."""
    from bench.lab.up import impair_socket

    if "impair_control" in inspect.signature(measurement).parameters:
        return {"impair_control": str(impair_socket(inv))}
    return {}


@contextmanager
def open_peer(inv: Inventory, pcap_dir: Path, name: str = "peer",
              defaults: ConnOptions | None = None, dut: str | None = None) -> Iterator[Peer]:
    """`with open_peer(inv, out) as peer:` -> a Peer writing `<out>/<name>.pcapng`.

    With `dut` the peer hears only that DUT: several DUTs can then be measured at the
    same time on the lab's one bench segment (hilbench run does)."""
    pcap_dir = Path(pcap_dir)
    pcap_dir.mkdir(parents=True, exist_ok=True)
    side = inv.bench.peer
    peer = Peer(f"{inv.lab.prefix}bench", side.interface, str(side.address), side.mac,
                pcap=pcap_dir / f"{name}.pcapng", defaults=defaults,
                remotes=[f"{dut_ip(inv, dut)}/32"] if dut else ())
    try:
        yield peer
    finally:
        peer.close()
