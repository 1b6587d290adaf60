"""Stack-wide TCP counters from /proc/net/snmp (Tcp:) and /proc/net/netstat (TcpExt:)."""

from __future__ import annotations

from pathlib import Path

PROC_NET = Path("/proc/net")

# Tcp: keys that are configuration, not counters.
_TCP_SKIP = {"RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn"}

# TcpExt counters on the `OK counters` line with the Tcp: ones (fits even at 10 digits).
TCPEXT_HEAD_KEYS: tuple[str, ...] = (
    "SyncookiesSent",
    "ListenOverflows",
    "ListenDrops",
    "TCPTimeouts",
    "TCPSynRetrans",
    "TCPLossProbes",
    "TCPFastRetrans",
    "TCPAbortOnTimeout",
    "TCPSackRecovery",
)

# More TcpExt counters, sent as `- key=value` data lines before the final line.
TCPEXT_MORE_KEYS: tuple[str, ...] = (
    "SyncookiesRecv",
    "SyncookiesFailed",
    "TCPSlowStartRetrans",
    "TCPRenoRecovery",
    "TCPSpuriousRTOs",
    "TCPDSACKRecv",
    "TCPDSACKOldSent",
    "TCPAbortOnData",
    "TCPAbortOnClose",
    "TCPAbortOnMemory",
    "TCPAbortOnLinger",
    "TCPAbortFailed",
    "EmbryonicRsts",
    "TW",
    "TWRecycled",
    "TWKilled",
    "PAWSEstab",
    "DelayedACKs",
    "TCPPureAcks",
    "TCPOFOQueue",
    "TCPZeroWindowDrop",
    "TCPToZeroWindowAdv",
    "TCPFromZeroWindowAdv",
    "TCPWantZeroWindowAdv",
    "TCPChallengeACK",
    "TCPSYNChallenge",
    "TCPMTUPFail",
    "TCPMTUPSuccess",
    "TCPOrigDataSent",
    "TCPRetransFail",
)


def parse_proc_table(text: str) -> dict[str, dict[str, int]]:
    """Parse the `Group: names` / `Group: values` line pairs of /proc/net/{snmp,netstat}."""
    groups: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        group, _, keys = names.partition(":")
        vgroup, _, nums = values.partition(":")
        if group != vgroup:
            continue
        groups[group] = {k: int(v) for k, v in zip(keys.split(), nums.split(), strict=False)}
    return groups


def read_tcp_counters(
    proc_net: Path = PROC_NET,
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(Tcp: counters + the head TcpExt ones, the further TcpExt ones) this kernel has."""
    snmp = parse_proc_table((proc_net / "snmp").read_text()).get("Tcp", {})
    ext = parse_proc_table((proc_net / "netstat").read_text()).get("TcpExt", {})
    head = [(k, v) for k, v in snmp.items() if k not in _TCP_SKIP]
    head += [(k, ext[k]) for k in TCPEXT_HEAD_KEYS if k in ext]
    more = [(k, ext[k]) for k in TCPEXT_MORE_KEYS if k in ext]
    return head, more
