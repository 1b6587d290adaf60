"""Kernel errno -> protocol error code (the protocol has a small fixed set)."""

from __future__ import annotations

import errno

_CODES = {
    errno.ETIMEDOUT: "ETIMEDOUT",
    errno.ECONNREFUSED: "ECONNREFUSED",
    errno.ECONNRESET: "ECONNRESET",
    errno.EPIPE: "ECONNRESET",
    errno.ECONNABORTED: "ECONNRESET",
    errno.EADDRINUSE: "EBUSY",
    errno.ENOMEM: "ENOMEM",
    errno.ENOBUFS: "ENOMEM",
    errno.EMFILE: "ENOMEM",
    errno.ENFILE: "ENOMEM",
    errno.EINVAL: "EINVAL",
    errno.EADDRNOTAVAIL: "EINVAL",
}


def error_code(err: int) -> str:
    """The protocol code for a kernel errno; anything unlisted is `EIO`."""
    return _CODES.get(err, "EIO")


def errno_name(err: int) -> str:
    """Symbolic errno name (`EHOSTUNREACH`), kept as detail next to the protocol code."""
    return errno.errorcode.get(err, str(err))
