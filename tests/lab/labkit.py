"""Helpers for lab tests: a private copy of the shipped inventory (own prefix and state
folder, so a test never touches a lab a developer has up) and namespaced sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from bench.inventory import Inventory, parse
from bench.lab import netns
from bench.lab.down import down
from bench.lab.up import up

ROOT = Path(__file__).resolve().parents[2]
PATTERN_MOD = 251


def lab_inventory(state_dir: Path, prefix: str = "ht-", impairment: str = "bridge",
                   duts: list[str] | None = None) -> Inventory:
    """The shipped inventory with a test prefix, a private state dir, and chosen DUTs."""
    data = yaml.safe_load((ROOT / "inventory.yaml").read_text())
    data["lab"]["prefix"] = prefix
    data["lab"]["state_dir"] = str(state_dir)
    data["impairment"]["kind"] = impairment
    if duts is not None:
        data["duts"] = [d for d in data["duts"] if d["name"] in duts]
    return parse(yaml.safe_dump(data), "test-inventory.yaml")


def pattern(offset: int, length: int) -> bytes:
    """The protocol's stream pattern byte[k] = k mod 251, from `offset`."""
    return bytes((offset + i) % PATTERN_MOD for i in range(length))


def bench_socket(inv: Inventory) -> socket.socket:
    """A TCP socket in the bench namespace (the bench kernel's address)."""
    return netns.socket_in(f"{inv.lab.prefix}bench", socket.AF_INET, socket.SOCK_STREAM)


def recv_exactly(sock: socket.socket, nbytes: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < nbytes:
        chunk = sock.recv(min(65536, nbytes - len(chunks)))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks)


@contextmanager
def running_lab(state_dir: Path, prefix: str, duts: list[str]) -> Iterator[Inventory]:
    """A private lab (own prefix) with `duts`, built from scratch and always torn down."""
    from tests.conftest import require_lab

    require_lab()
    inv = lab_inventory(state_dir, prefix=prefix, duts=duts)
    down(inv, say=lambda _: None)
    up(inv, say=lambda _: None)
    try:
        yield inv
    finally:
        down(inv, say=lambda _: None)
