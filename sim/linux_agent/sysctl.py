"""The namespace's net.ipv4 TCP sysctls: the Linux DUT's "compiled-in constants"."""

from __future__ import annotations

import errno
import re
from pathlib import Path

from .protocol import ProtoError

SYSCTL_DIR = Path("/proc/sys/net/ipv4")

# Reported on the `OK consts` line (fits in one reply line); absent ones are skipped.
CONST_KEYS: tuple[str, ...] = (
    "tcp_syn_retries",
    "tcp_synack_retries",
    "tcp_syn_linear_timeouts",
    "tcp_retries1",
    "tcp_retries2",
    "tcp_fin_timeout",
    "tcp_congestion_control",
    "tcp_sack",
    "tcp_window_scaling",
    "tcp_timestamps",
    "tcp_ecn",
    "tcp_fastopen",
    "tcp_syncookies",
    "tcp_max_syn_backlog",
    "tcp_rmem",
    "tcp_wmem",
    "tcp_mtu_probing",
    "tcp_base_mss",
    "tcp_no_metrics_save",
    "tcp_rfc1337",
    "tcp_tw_reuse",
    "tcp_early_retrans",
    "tcp_recovery",
    "tcp_frto",
)

# Also reported, as `- key=value` data lines before the final line (reply length limit).
MORE_CONST_KEYS: tuple[str, ...] = (
    "tcp_orphan_retries",
    "tcp_dsack",
    "tcp_min_snd_mss",
    "tcp_slow_start_after_idle",
    "tcp_rto_min_us",
    "tcp_rto_max_ms",
    "tcp_keepalive_time",
    "tcp_max_tw_buckets",
    "tcp_abort_on_overflow",
    "tcp_adv_win_scale",
    "tcp_moderate_rcvbuf",
    "tcp_autocorking",
    "tcp_reordering",
    "tcp_thin_linear_timeouts",
    "tcp_delack_min",
)

_KEY = re.compile(r"^tcp_[a-z0-9_]+$")
_VALUE = re.compile(r"^[A-Za-z0-9_.,-]+$")


def read_sysctl(key: str, root: Path = SYSCTL_DIR) -> str:
    """One sysctl value in protocol form (whitespace-separated lists become commas)."""
    return ",".join((root / key).read_text().split())


def read_consts(
    keys: tuple[str, ...] = CONST_KEYS + MORE_CONST_KEYS, root: Path = SYSCTL_DIR
) -> list[tuple[str, str]]:
    """The listed sysctls this kernel has, in the order given."""
    out: list[tuple[str, str]] = []
    for key in keys:
        try:
            out.append((key, read_sysctl(key, root)))
        except OSError:
            continue
    return out


def settable_path(key: str, root: Path = SYSCTL_DIR) -> Path:
    """The sysctl file for a `set` key; only existing net.ipv4.tcp_* entries qualify."""
    if not _KEY.match(key) or not (root / key).is_file():
        raise ProtoError("EINVAL", f"no such constant {key}")
    return root / key


def write_sysctl(key: str, value: str, root: Path = SYSCTL_DIR) -> str:
    """Write a sysctl (commas become spaces) and return the value read back."""
    path = settable_path(key, root)
    if not _VALUE.match(value):
        raise ProtoError("EINVAL", f"bad value for {key}")
    try:
        path.write_text(value.replace(",", " ") + "\n")
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise ProtoError("EINVAL", f"{key} is read-only") from None
        raise ProtoError("EINVAL", f"{key}: {exc.strerror}") from None
    return read_sysctl(key, root)
