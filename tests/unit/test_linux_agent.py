"""The Linux host agent's pure parts, and its request handling end to end on the console
grammar (only commands that read state or fail validation: no sockets, no sysctl writes)."""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.linux_agent.agent import Agent
from sim.linux_agent.errors import error_code
from sim.linux_agent.identity import build_id, stack_version
from sim.linux_agent.linebuf import LineReader
from sim.linux_agent.pattern import CHUNK_BYTES, count_mismatches, pattern_bytes
from sim.linux_agent.protocol import (
    MAX_REPLY_BYTES,
    ProtoError,
    chunk_pairs,
    data_line,
    err_line,
    evt_line,
    fit_pairs,
    ok_line,
)
from sim.linux_agent.request import parse_request
from sim.linux_agent.snmp import parse_proc_table
from sim.linux_agent.tcpinfo import parse_tcp_info, stat_fields, state_name

# Verbs whose success would change the host (sockets, sysctls, links): never executed here.
SIDE_EFFECT_VERBS = {"set", "listen", "connect", "udp", "reboot", "link"}


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent("unit-dut")


def final_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("OK ", "ERR "))]


# ---- pattern -------------------------------------------------------------------------


def test_pattern_is_k_mod_251() -> None:
    assert pattern_bytes(0, 600) == bytes(k % 251 for k in range(600))
    assert pattern_bytes(1_000_000, 5) == bytes(k % 251 for k in range(1_000_000, 1_000_005))


@given(st.integers(0, 10**9), st.integers(0, 3 * CHUNK_BYTES), st.integers(0, 3 * CHUNK_BYTES))
@settings(max_examples=50)
def test_pattern_pieces_join_up(offset: int, a: int, b: int) -> None:
    assert pattern_bytes(offset, a) + pattern_bytes(offset + a, b) == pattern_bytes(offset, a + b)


def test_count_mismatches() -> None:
    data = bytearray(pattern_bytes(300, 1000))
    assert count_mismatches(300, bytes(data)) == 0
    data[0] ^= 1
    data[999] ^= 0xFF
    assert count_mismatches(300, bytes(data)) == 2
    assert count_mismatches(0, pattern_bytes(1, 251)) == 251


# ---- framing and parsing -------------------------------------------------------------


def test_line_reader_joins_pieces_and_bounds_long_lines() -> None:
    reader = LineReader()
    assert reader.feed(b"hel") == []
    assert reader.feed(b"lo\r\nconns\n\nst") == [b"hello\r", b"conns", b""]
    assert reader.feed(b"at 1\n") == [b"stat 1"]
    (long_line,) = reader.feed(b"x" * 100_000 + b"\n")
    assert 255 < len(long_line) < 300
    with pytest.raises(ProtoError) as exc:
        parse_request(long_line)
    assert exc.value.code == "EINVAL"
    assert reader.feed(b"hello\n") == [b"hello"]


def test_parse_request_words_and_options() -> None:
    req = parse_request(b"connect 192.0.2.1  5001\tlport=4000 mode=check\r")
    assert req is not None
    assert (req.verb, req.args, req.opts) == (
        "connect",
        ("192.0.2.1", "5001"),
        {"lport": "4000", "mode": "check"},
    )
    assert parse_request(b"") is None
    assert parse_request(b"  \r") is None
    assert parse_request(b"x" * 255) is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"x" * 256,
        b"hello \xff",
        b"hello\x00",
        b"listen mode=check 5001",
        b"listen 5001 mode=check mode=echo",
        b"listen 5001 =check",
        b"listen 5001 mode=",
    ],
)
def test_parse_request_rejects(raw: bytes) -> None:
    with pytest.raises(ProtoError) as exc:
        parse_request(raw)
    assert exc.value.code == "EINVAL"


# ---- formatting ----------------------------------------------------------------------


def test_reply_formatting() -> None:
    assert ok_line("listen", {"lid": 1, "port": 5001}) == "OK listen lid=1 port=5001"
    assert ok_line("reboot") == "OK reboot"
    assert err_line("ENOENT", "no connection 3") == "ERR ENOENT no connection 3"
    assert evt_line("sent", [("id", 2), ("bytes", 10)]) == "EVT sent id=2 bytes=10"
    assert data_line([("id", 0), ("state", "LISTEN")]) == "- id=0 state=LISTEN"
    assert ok_line("x", {"v": "a b\nc", "up": True}) == "OK x v=a,b?c up=1"
    with pytest.raises(ValueError):
        ProtoError("EWHATEVER", "not a code")


def test_long_replies_drop_whole_pairs() -> None:
    pairs = [(f"key{i}", "v" * 20) for i in range(40)]
    line = ok_line("consts", pairs)
    assert len(line) < MAX_REPLY_BYTES
    assert line.split()[-1].startswith("key") and line.endswith("v" * 20)
    fits, rest = fit_pairs(pairs, "OK consts")
    assert fits + rest == pairs and ok_line("consts", fits) == line
    chunks = chunk_pairs(rest)
    assert [p for c in chunks for p in c] == rest
    assert all(len(data_line(c)) < MAX_REPLY_BYTES for c in chunks)


# ---- TCP_INFO ------------------------------------------------------------------------


def _tcp_info_buffer(size: int) -> bytes:
    buf = bytearray(size)
    buf[0] = 1  # ESTABLISHED
    buf[2] = 3  # retransmits
    buf[6] = (9 << 4) | 7  # rcv_wscale 9, snd_wscale 7
    struct.pack_into("=IIII", buf, 8, 204_000, 40_000, 1448, 536)  # rto ato snd/rcv mss
    struct.pack_into("=I", buf, 68, 1500)  # rtt us
    struct.pack_into("=II", buf, 76, 7, 10)  # snd_ssthresh, snd_cwnd
    struct.pack_into("=I", buf, 96, 65483)  # rcv_space
    struct.pack_into("=I", buf, 100, 4)  # total_retrans
    if size >= 232:
        struct.pack_into("=I", buf, 228, 64256)  # snd_wnd
    return bytes(buf)


def test_parse_tcp_info_new_kernel() -> None:
    info = parse_tcp_info(_tcp_info_buffer(280))
    assert info["state"] == 1 and info["snd_wscale"] == 7 and info["rcv_wscale"] == 9
    core, extra = stat_fields(info)
    fields = dict(core + extra)
    assert fields["cwnd"] == 10 * 1448 and fields["ssthresh"] == 7 * 1448
    assert fields["rto_ms"] == 204 and fields["rtt_ms"] == 1 and fields["rtt_us"] == 1500
    assert fields["nrtx"] == 3 and fields["total_rtx"] == 4
    assert fields["snd_wnd"] == 64256 and fields["rcv_wnd"] == 65483
    assert fields["mss"] == 1448 and fields["rcv_mss"] == 536


def test_parse_tcp_info_old_kernel_lacks_new_fields() -> None:
    info = parse_tcp_info(_tcp_info_buffer(104))
    assert "snd_wnd" not in info and "bytes_acked" not in info
    assert info["total_retrans"] == 4


def test_infinite_ssthresh_and_state_names() -> None:
    info = parse_tcp_info(_tcp_info_buffer(104))
    info["snd_ssthresh"] = 0x7FFFFFFF
    assert dict(stat_fields(info)[0])["ssthresh"] == 0x7FFFFFFF
    assert state_name(6) == "TIME_WAIT" and state_name(12) == "SYN_RCVD"
    assert state_name(99) == "UNKNOWN99"


# ---- small helpers -------------------------------------------------------------------


def test_proc_table_parsing() -> None:
    text = "Tcp: RtoMin ActiveOpens\nTcp: 200 7\nUdp: InDatagrams\nUdp: 3\n"
    assert parse_proc_table(text) == {
        "Tcp": {"RtoMin": 200, "ActiveOpens": 7},
        "Udp": {"InDatagrams": 3},
    }


def test_identity_and_error_codes() -> None:
    assert stack_version("6.18.44-fc-v669") == "linux-6.18.44"
    build = build_id("6.18.44", [("tcp_sack", "1")])
    assert build.startswith("6.18.44-") and build != build_id("6.18.44", [("tcp_sack", "0")])
    assert error_code(errno.ECONNREFUSED) == "ECONNREFUSED"
    assert error_code(errno.EPIPE) == "ECONNRESET"
    assert error_code(errno.EHOSTUNREACH) == "EIO"


# ---- request handling on a live agent (read-only) ------------------------------------


def test_hello_and_unknown(agent: Agent) -> None:
    (hello,) = agent.handle_line(b"hello")
    assert hello.startswith("OK hello name=unit-dut proto=1 stack=linux-")
    assert agent.handle_line(b"frobnicate 1 2") == ["ERR EUNKNOWN unknown command frobnicate"]
    assert agent.handle_line(b"") == []


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"hello extra", "EINVAL"),
        (b"listen", "EINVAL"),
        (b"listen 0", "EINVAL"),
        (b"listen 70000", "EINVAL"),
        (b"listen 5001 mode=bogus", "EINVAL"),
        (b"listen 5001 backlog=-1", "EINVAL"),
        (b"listen 5001 colour=red", "EINVAL"),
        (b"connect 192.0.2 80", "EINVAL"),
        (b"connect 192.0.2.1 port", "EINVAL"),
        (b"connect 192.0.2.1 80 lport=0", "EINVAL"),
        (b"send 1", "EINVAL"),
        (b"send 1 0", "EINVAL"),
        (b"send 0 10", "EINVAL"),
        (b"send 77 10", "ENOENT"),
        (b"rx 77 bogus", "EINVAL"),
        (b"rx 77 hold", "ENOENT"),
        (b"stat 77", "ENOENT"),
        (b"close 77", "ENOENT"),
        (b"abort 77", "ENOENT"),
        (b"shutdown 77", "ENOENT"),
        (b"unlisten 77", "ENOENT"),
        (b"udp", "EINVAL"),
        (b"udp bind", "EINVAL"),
        (b"udp bind 7 mode=check", "EINVAL"),
        (b"udp stat 7", "ENOENT"),
        (b"set tcp_sack", "EINVAL"),
        (b"set ../../../etc/passwd 1", "EINVAL"),
        (b"set tcp_no_such_thing 1", "EINVAL"),
        (b"link set mtu=10", "EINVAL"),
        (b"link set addr=192.0.2.10", "EINVAL"),
        (b"link set initcwnd=x", "EINVAL"),
        (b"link bogus", "EINVAL"),
    ],
)
def test_bad_requests_get_one_error(agent: Agent, line: bytes, code: str) -> None:
    (reply,) = agent.handle_line(line)
    assert reply.startswith(f"ERR {code} "), reply


def test_read_only_commands(agent: Agent) -> None:
    for verb in (b"consts", b"counters", b"conns", b"link"):
        lines = agent.handle_line(verb)
        assert len(final_lines(lines)) == 1 and lines[-1].startswith("OK " + verb.decode())
        assert all(line.startswith("- ") for line in lines[:-1])
        assert all(len(line) < MAX_REPLY_BYTES for line in lines)
    consts = agent.handle_line(b"consts")[-1]
    assert "tcp_syn_retries=" in consts and "tcp_rmem=" in consts
    assert "ActiveOpens=" in agent.handle_line(b"counters")[-1]


def _safe_to_run(raw: bytes) -> bool:
    try:
        req = parse_request(raw.split(b"\n")[0])
    except ProtoError:
        return True
    return req is None or req.verb not in SIDE_EFFECT_VERBS


def _check_one_reply(agent: Agent, raw: bytes) -> None:
    lines = agent.handle_line(raw)
    blank = raw.rstrip(b"\r").replace(b"\t", b" ").strip(b" ") == b""
    assert len(final_lines(lines)) == (0 if blank else 1), (raw, lines)
    assert all(line.startswith(("OK ", "ERR ", "- ")) for line in lines)
    assert all("\n" not in line and len(line) < MAX_REPLY_BYTES for line in lines)


@given(st.binary(max_size=300).filter(lambda b: b"\n" not in b))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_fuzz_any_bytes_give_exactly_one_final_reply(agent: Agent, raw: bytes) -> None:
    if _safe_to_run(raw):
        _check_one_reply(agent, raw)


_VERBS = ["hello", "consts", "conns", "counters", "stat", "send", "rx", "shutdown", "close",
          "abort", "unlisten", "udp", "link", "set", "listen", "connect", "reboot"]
_TOKENS = st.one_of(
    st.sampled_from(["1", "0", "-1", "999999999999999999999", "stat", "check", "hold",
                     "mode=echo", "mode=", "=x", "lport=80", "192.0.2.1", "x=y=z"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)


@given(st.sampled_from(_VERBS), st.lists(_TOKENS, max_size=5))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_fuzz_known_verbs_with_random_arguments(agent: Agent, verb: str, args: list[str]) -> None:
    raw = " ".join([verb, *args]).encode()
    if _safe_to_run(raw):
        _check_one_reply(agent, raw)
    else:
        try:  # parsing alone must still never raise anything but ProtoError
            parse_request(raw)
        except ProtoError:
            pass
