"""Taking the impairment bridge for a measurement: only through the lab's own control
socket, and one measurement at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.measure.loss_sweep import bridge_taken


def test_a_measurement_without_the_bridge_socket_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="impair_control=") as caught, bridge_taken(None, 1):
        pass
    assert "\n" not in str(caught.value)


def test_the_bridge_is_taken_in_turns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.lock.LOCK_DIR", tmp_path)  # not the machine's /run/hilbench
    sock = str(tmp_path / "impair-ut-.sock")
    with bridge_taken(sock, 1) as taken:
        assert taken == Path(sock)
        with pytest.raises(Exception, match="impairment bridge"), bridge_taken(sock, 0.2):
            pass
    with bridge_taken(sock, 1):  # released when the first measurement ended
        pass
