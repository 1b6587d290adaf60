"""What `hello` and `EVT boot` say: the kernel as the stack, its config as the build."""

from __future__ import annotations

import hashlib
import os
import re

from .protocol import PROTO_VERSION, format_kv


def stack_version(release: str) -> str:
    """`linux-6.18.44` from a kernel release such as `6.18.44-fc-v669`."""
    match = re.match(r"\d+(\.\d+)*", release)
    return f"linux-{match.group() if match else release}"


def build_id(release: str, consts: list[tuple[str, str]]) -> str:
    """Kernel release plus a short hash of the TCP sysctls: a different config is a
    different "firmware build", as two lwipopts.h variants are."""
    digest = hashlib.sha256(format_kv(consts).encode()).hexdigest()[:8]
    return f"{release}-{digest}"


def identity(name: str, consts: list[tuple[str, str]]) -> list[tuple[str, object]]:
    """The key=value pairs of `OK hello` and `EVT boot`."""
    release = os.uname().release
    return [
        ("name", name),
        ("proto", PROTO_VERSION),
        ("stack", stack_version(release)),
        ("build", build_id(release, consts)),
    ]
