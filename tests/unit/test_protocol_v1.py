"""Protocol v1 line grammar: classification, and robustness on arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_adapters.protocol_v1 import LineKind, classify, format_request


def test_ok_reply_with_fields() -> None:
    line = classify("OK hello name=lwip-m3 proto=1 stack=lwip-2.1.3 build=x\r")
    assert line.kind is LineKind.OK and line.name == "hello"
    assert line.fields == {"name": "lwip-m3", "proto": "1", "stack": "lwip-2.1.3", "build": "x"}


def test_err_reply_keeps_free_text() -> None:
    line = classify("ERR ENOENT no connection 7")
    assert (line.kind, line.name, line.text) == (LineKind.ERR, "ENOENT", "no connection 7")


def test_event_and_data_lines() -> None:
    assert classify("EVT accepted id=1 lid=2").fields == {"id": "1", "lid": "2"}
    data = classify("- id=0 state=TIME_WAIT local=192.0.2.20:7 remote=192.0.2.1:5")
    assert data.kind is LineKind.DATA and data.fields["state"] == "TIME_WAIT"


@pytest.mark.parametrize("text", ["", "lwIP booting...", "OK", "OK Hello x", "ERR nope",
                                  "EVT", "OK stat id=1 state", "- not kv", "\x00\xff OK hello"])
def test_garbage(text: str) -> None:
    assert classify(text).kind is LineKind.GARBAGE


@given(st.binary(max_size=600))
def test_any_bytes_classify_without_raising(raw: bytes) -> None:
    line = classify(raw.decode("utf-8", errors="replace"))
    assert line.kind in LineKind
    if line.kind in (LineKind.OK, LineKind.EVENT, LineKind.DATA):
        assert all(" " not in v for v in line.fields.values())


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
               max_size=20), st.integers(0, 65535))
def test_requests_round_trip_as_tokens(word: str, port: int) -> None:
    assert format_request("listen", port, mode=word).split() == ["listen", str(port),
                                                                   f"mode={word}"]


def test_request_refuses_spaces_and_overlong() -> None:
    with pytest.raises(ValueError):
        format_request("send", "1 2")
    with pytest.raises(ValueError):
        format_request("x", "a" * 300)


def test_ok_reply_with_subverb() -> None:
    line = classify("OK udp bind port=7")
    assert (line.kind, line.name, line.fields) == (LineKind.OK, "udp", {"port": "7"})


@given(st.text(max_size=30))
def test_format_request_accepts_or_refuses_cleanly(word: str) -> None:
    try:
        line = format_request("send", word)
    except ValueError:
        return
    assert line.isascii() and line.split() == ["send", word]
