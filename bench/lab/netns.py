"""Run code, sockets and processes inside the lab's network namespaces.

setns(2) moves only the calling thread, so every entry happens on a short-lived thread
(or in a child before exec): the orchestrator's own threads never change namespace, and
a socket created inside a namespace stays bound to it for its whole life.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from pyroute2 import netns as _netns

NETNS_RUN_DIR = Path("/var/run/netns")

T = TypeVar("T")


class NamespaceError(RuntimeError):
    """A namespace is missing or cannot be entered."""


def exists(name: str) -> bool:
    """True when a named namespace is mounted under /var/run/netns."""
    return (NETNS_RUN_DIR / name).exists()


def list_with_prefix(prefix: str) -> list[str]:
    """Named namespaces whose name starts with `prefix` (how `lab down` finds its own)."""
    if not NETNS_RUN_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_RUN_DIR.iterdir() if p.name.startswith(prefix))


def create(name: str) -> None:
    """Create a named namespace; harmless when it already exists."""
    if not exists(name):
        _netns.create(name)


def remove(name: str) -> None:
    """Delete a named namespace (its interfaces go with it); harmless when gone."""
    if exists(name):
        _netns.remove(name)


def enter(name: str) -> None:
    """Move the calling thread into `name`; never creates it."""
    if not exists(name):
        raise NamespaceError(f"network namespace {name} does not exist (is the lab up?)")
    _netns.setns(name, flags=0)


def run_in(name: str, fn: Callable[[], T]) -> T:
    """Call `fn` on a thread inside namespace `name` and return its result."""
    box: dict[str, object] = {}

    def body() -> None:
        try:
            enter(name)
            box["result"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def sysctl_in(name: str, key: str, value: str) -> None:
    """Write the namespaced sysctl `key` (dotted, e.g. net.core.rps_default_mask) inside
    namespace `name`: /proc/sys/net is the view of the namespace that opens it."""
    path = Path("/proc/sys") / key.replace(".", "/")

    def write() -> None:
        path.write_text(value, encoding="ascii")

    run_in(name, write)


_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE = 0x4000, 0x40000


def sysfs_write_in(name: str, paths: Callable[[Path], Sequence[Path]], value: str) -> None:
    """Write `value` to the files `paths(sys_root)` of namespace `name`'s own sysfs.

    /sys/class/net shows the interfaces of the namespace that mounted it, so the thread
    (already in `name`) takes a private mount namespace of its own and mounts a fresh
    sysfs there, as `ip netns exec` does; both vanish when the thread ends."""
    libc = ctypes.CDLL(None, use_errno=True)

    def write() -> None:
        if libc.unshare(_CLONE_NEWNS) != 0 or \
                libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0 or \
                libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"sysfs of namespace {name}: {os.strerror(err)}")
        for path in paths(Path("/sys")):
            path.write_text(value, encoding="ascii")

    run_in(name, write)


def socket_in(name: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket that lives in namespace `name`."""
    return run_in(name, lambda: socket.socket(family, kind, proto))


def popen_in(name: str, args: Sequence[str], **kwargs: object) -> subprocess.Popen:
    """Start a process inside namespace `name`, in its own session (so a Ctrl-C aimed at
    the CLI does not reach lab processes that must outlive it)."""
    if not exists(name):
        raise NamespaceError(f"network namespace {name} does not exist (is the lab up?)")

    def preexec() -> None:
        _netns.setns(name, flags=0)

    kwargs.setdefault("start_new_session", True)
    return subprocess.Popen(list(args), preexec_fn=preexec, **kwargs)  # type: ignore[call-overload]


def inode(name: str) -> int:
    """The namespace's inode, which /proc/PID/ns/net links point to."""
    return os.stat(NETNS_RUN_DIR / name).st_ino


def pids_inside(name: str) -> list[int]:
    """PIDs of every process whose network namespace is `name`."""
    if not exists(name):
        return []
    target = f"net:[{inode(name)}]"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "net") == target:
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)
