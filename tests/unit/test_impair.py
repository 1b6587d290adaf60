"""The impairment engine, rule model, units, netem translation and CLI, without I/O."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pytest

from bench.impair import cli, loadgen, netem, packet, units
from bench.impair.eventlog import read_log
from bench.impair.pipeline import Pipeline
from bench.impair.rules import RuleSet, first_error, load_rules


def udp(seq: int, size: int = 100) -> bytes:
    return loadgen.udp_frame("02:00:00:00:00:01", "02:00:00:00:00:02", "192.0.2.1",
                             "192.0.2.10", 4000, 9, size, seq)


def run(stages: list[dict], frames: list[bytes], seed: int = 0, gap_ns: int = 1000,
        log: list | None = None) -> list[tuple[bytes, int]]:
    rules = load_rules({"seed": seed, "to-dut": stages})
    pipe = Pipeline.from_rules(rules, "to-dut", log.append if log is not None else None)
    out = []
    for i, frame in enumerate(frames):
        out += pipe.process(frame, i * gap_ns)
    return out


def seqs(out: list[tuple[bytes, int]]) -> list[int]:
    return [int.from_bytes(f[loadgen.SEQ_OFFSET:loadgen.SEQ_OFFSET + 4], "big") for f, _ in out]


# -- units ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [("1%", 0.01), ("0.5%", 0.005), ("0.02", 0.02)])
def test_probability(text, value):
    assert units.parse_probability(text) == pytest.approx(value)


@pytest.mark.parametrize("text,value", [("20ms", 20.0), ("1s", 1000.0), ("500us", 0.5),
                                        ("3", 3.0)])
def test_duration(text, value):
    assert units.parse_duration_ms(text) == pytest.approx(value)


@pytest.mark.parametrize("text,value", [("100mbit", 100_000_000), ("1gbit", 10**9),
                                        ("64kbit", 64_000), ("1mbps", 8_000_000)])
def test_rate(text, value):
    assert units.parse_rate_bps(text) == value


@pytest.mark.parametrize("bad", ["1x", "150%", "-1%", "abc"])
def test_bad_probability_names_the_value(bad):
    with pytest.raises(units.UnitError, match="percentage|probability|between"):
        units.parse_probability(bad)


def test_limit_packets_or_bytes():
    assert units.parse_limit("100") == (100, None)
    assert units.parse_limit("64kb") == (None, 65536)


# -- rule model -------------------------------------------------------------------------

def test_bad_rule_error_names_the_field():
    with pytest.raises(ValueError) as info:
        load_rules({"to-dut": [{"action": {"kind": "delay", "delay_ms": "2x"}}]})
    assert first_error(info.value).startswith("to-dut.0.action.delay.delay_ms:")


def test_unknown_key_is_refused():
    with pytest.raises(ValueError) as info:
        load_rules({"to-dut": [{"action": {"kind": "drop"}, "probabilty": 0.1}]})
    assert "probabilty" in first_error(info.value)


def test_rules_round_trip_through_json():
    rules = load_rules({"seed": 3, "to-bench": [{"match": {"proto": "tcp", "nth": 2},
                                                 "action": {"kind": "drop"}}]})
    assert load_rules(rules.to_json()) == rules


# -- headers ----------------------------------------------------------------------------

def test_parse_udp_headers():
    h = packet.parse(udp(7, 200))
    assert (h.proto, h.dst_port, h.ip_id, h.payload_bytes) == (17, 9, 7, 200 - 42)


def test_non_ip_frames_do_not_raise():
    assert packet.parse(b"\xff" * 12 + b"\x08\x06" + b"\0" * 28) is packet.NOT_IP
    assert packet.parse(b"\0" * 10) is packet.NOT_IP


# -- engine -----------------------------------------------------------------------------

def test_no_rules_pass_everything_unchanged():
    frames = [udp(i) for i in range(5)]
    assert run([], frames) == [(f, i * 1000) for i, f in enumerate(frames)]


def test_nth_drop_drops_only_that_packet_and_logs_it():
    log: list = []
    out = run([{"match": {"proto": "udp", "nth": 20}, "action": {"kind": "drop"}}],
              [udp(i) for i in range(50)], log=log)
    assert 19 not in seqs(out) and len(out) == 49
    assert [(r["frame"], r["ip_id"], r["action"]) for r in log] == [(20, 19, "dropped")]


def test_same_seed_same_drops_other_seed_other_drops():
    stage = [{"select": {"kind": "random", "probability": 0.1}, "action": {"kind": "drop"}}]
    frames = [udp(i) for i in range(2000)]
    assert seqs(run(stage, frames, seed=7)) == seqs(run(stage, frames, seed=7))
    assert seqs(run(stage, frames, seed=7)) != seqs(run(stage, frames, seed=8))


def test_gilbert_mean_burst_is_one_over_r():
    log: list = []
    run([{"select": {"kind": "gilbert", "p": 0.02, "r": 0.2}, "action": {"kind": "drop"}}],
        [udp(i, 64) for i in range(100_000)], seed=1, log=log)
    frames = [r["frame"] for r in log]
    bursts = 1 + sum(b != a + 1 for a, b in zip(frames, frames[1:], strict=False))
    assert len(frames) / bursts == pytest.approx(5.0, rel=0.08)


def test_delay_with_jitter_keeps_order_and_spreads_uniformly():
    out = run([{"action": {"kind": "delay", "delay_ms": 20, "jitter_ms": 2}}],
              [udp(i) for i in range(5000)], gap_ns=10_000_000)
    delays_ms = [(t - i * 10_000_000) / 1e6 for i, (_, t) in enumerate(out)]
    assert all(18.0 <= d <= 22.0 for d in delays_ms)
    assert statistics.fmean(delays_ms) == pytest.approx(20.0, abs=0.05)
    assert statistics.pstdev(delays_ms) == pytest.approx(2 / 3**0.5, rel=0.05)
    tight = run([{"action": {"kind": "delay", "delay_ms": 20, "jitter_ms": 2}}],
                [udp(i) for i in range(500)], gap_ns=100_000)
    assert [t for _, t in tight] == sorted(t for _, t in tight)


def test_reorder_releases_after_depth_later_packets():
    out = run([{"match": {"nth": 3}, "action": {"kind": "reorder", "depth": 2}}],
              [udp(i) for i in range(6)])
    assert seqs(out) == [0, 1, 3, 4, 2, 5]


def test_reorder_hold_expires_without_traffic():
    rules = load_rules({"to-dut": [{"action": {"kind": "reorder", "depth": 5,
                                               "max_hold_ms": 1}}]})
    pipe = Pipeline.from_rules(rules, "to-dut")
    assert pipe.process(udp(0), 0) == []
    assert pipe.next_due_ns() == 1_000_000
    assert [t for _, t in pipe.due(2_000_000)] == [2_000_000]


def test_duplicate_and_corrupt():
    out = run([{"action": {"kind": "duplicate", "copies": 2}}], [udp(1)])
    assert len(out) == 3 and out[0][0] == out[2][0]
    frame = udp(1, 200)
    (bad, _), = run([{"action": {"kind": "corrupt", "where": "payload"}}], [frame])
    diff = [i for i in range(len(frame)) if frame[i] != bad[i]]
    assert len(diff) == 1 and diff[0] >= 42
    assert bin(frame[diff[0]] ^ bad[diff[0]]).count("1") == 1


def test_rate_serialises_and_tail_drops():
    size = 1514
    stage = [{"action": {"kind": "rate", "rate_bps": 12_112_000, "limit_packets": 10}}]
    out = run(stage, [udp(i, size) for i in range(100)], gap_ns=0)  # a burst of 100
    assert len(out) == 10  # the queue holds 10, the rest are tail-dropped
    gaps = {b - a for (_, a), (_, b) in zip(out, out[1:], strict=False)}
    assert gaps == {1_000_000}  # 1514 bytes at 12.112 Mbit/s = 1 ms each


FAST_PATH_CASES = [
    [{"select": {"kind": "random", "probability": "3%"}, "action": {"kind": "drop"}}],
    [{"select": {"kind": "gilbert", "p": 0.02, "r": 0.3}, "action": {"kind": "drop"}},
     {"match": {"nth": 40}, "action": {"kind": "drop"}}],
    [{"match": {"nth": 7}, "select": {"kind": "random", "probability": "50%"},
      "action": {"kind": "drop"}},
     {"match": {"proto": "udp", "dst_port": 9}, "select": {"kind": "random",
                                                          "probability": "1%"},
      "action": {"kind": "drop"}}],
]


@pytest.mark.parametrize("stages", FAST_PATH_CASES)
def test_fast_path_drops_exactly_what_process_drops(stages):
    """The bridge's hot path (clear_run/passed + drops on the ring buffer) makes the
    same choices, counters and log as process(): a seed reproduces either way."""
    frames = [udp(i) for i in range(3000)]
    slow_log: list = []
    slow = seqs(run(stages, frames, seed=5, log=slow_log))
    rules = load_rules({"seed": 5, "to-dut": stages})
    fast_log: list = []
    pipe = Pipeline.from_rules(rules, "to-dut", fast_log.append)
    assert pipe.drop_only
    kept, i, clear = [], 0, 0
    while i < len(frames):
        clear = pipe.clear_run(64)
        take = min(clear, len(frames) - i)
        if take:
            kept += range(i, i + take)
            pipe.passed(take)
            i += take
            continue
        buffer = b"xx" + frames[i]  # a frame inside a larger buffer, as in the ring
        if not pipe.drops(memoryview(buffer), 2, len(buffer), i * 1000):
            kept.append(i)
        i += 1
    assert kept == slow and len(kept) < len(frames)
    assert fast_log == slow_log
    slow_pipe = Pipeline.from_rules(rules, "to-dut")
    for n, frame in enumerate(frames):
        slow_pipe.process(frame, n * 1000)
    assert pipe.counters() == slow_pipe.counters()


def test_counters_say_what_each_stage_did():
    rules = load_rules({"to-dut": [{"match": {"proto": "tcp"}, "action": {"kind": "drop"}},
                                   {"action": {"kind": "duplicate"}}]})
    pipe = Pipeline.from_rules(rules, "to-dut")
    for i in range(4):
        pipe.process(udp(i), i)
    first, second = pipe.counters()["stages"]
    assert (first["seen"], first["matched"]) == (4, 0)
    assert second["duplicated"] == 4


# -- netem translation ------------------------------------------------------------------

def test_netem_translation():
    rules = load_rules({"seed": 5, "to-dut": [
        {"select": {"kind": "random", "probability": "1%"}, "action": {"kind": "drop"}},
        {"action": {"kind": "delay", "delay_ms": 20, "jitter_ms": 2, "reorder": True}},
        {"action": {"kind": "rate", "rate_bps": "100mbit", "limit_packets": 50}}],
        "to-bench": [{"select": {"kind": "gilbert", "p": "1%", "r": "25%"},
                      "action": {"kind": "drop"}}]})
    assert netem.tc_commands(rules, {"to-dut": "imp-d", "to-bench": "imp-b"}) == [
        ["tc", "qdisc", "replace", "dev", "imp-d", "root", "netem", "loss", "random", "1%",
         "delay", "20ms", "2ms", "rate", "100000000bit", "limit", "50", "seed", "5"],
        ["tc", "qdisc", "replace", "dev", "imp-b", "root", "netem", "loss", "gemodel",
         "1%", "25%", "100%", "0%", "seed", "5"]]


@pytest.mark.parametrize("stage,reason", [
    ({"match": {"nth": 20}, "action": {"kind": "drop"}}, "cannot match"),
    ({"action": {"kind": "delay", "delay_ms": 5, "jitter_ms": 1}}, "reorders"),
    ({"action": {"kind": "reorder", "depth": 3}}, "depth"),
])
def test_netem_refuses_what_it_cannot_express(stage, reason):
    with pytest.raises(netem.NetemUnsupported, match=reason):
        netem.netem_args(load_rules({"to-dut": [stage]}), "to-dut")


def test_netem_missing_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(netem, "SYS_MODULE", tmp_path / "absent")
    with pytest.raises(netem.NetemMissing, match="no sch_netem"):
        netem.require_netem()


# -- CLI --------------------------------------------------------------------------------

def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["impair", *argv])


def test_cli_builds_the_rule_set():
    rules = cli.build_rules(parse(["set", "--loss", "1%", "--delay", "20ms", "--jitter", "2ms",
                                   "--rate", "100mbit", "--limit", "100", "--seed", "7",
                                   "--direction", "to-dut"]))
    assert rules.seed == 7 and rules.to_bench == []
    assert [s.action.kind for s in rules.to_dut] == ["drop", "delay", "rate"]
    assert rules.to_dut[2].action.limit_packets == 100


def test_cli_match_sets_direction_and_nth():
    rules = cli.build_rules(parse(["set", "--drop-nth", "20", "--match", "tcp,from-dut,data"]))
    assert rules.to_dut == [] and len(rules.to_bench) == 1
    match = rules.to_bench[0].match
    assert (match.proto, match.payload_min_bytes, match.nth) == ("tcp", 1, 20)


def test_cli_bad_value_exits_2_with_one_line(capsys):
    assert cli.main(["impair", "set", "--delay", "20xs", "--control", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--delay" in err


def test_cli_unreachable_bridge_exits_1(capsys):
    assert cli.main(["impair", "show", "--control", "/nonexistent/impair.sock"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_cli_finds_the_bridge_of_the_inventory_lab(tmp_path, capsys):
    import yaml

    from bench import cli as main_cli

    doc = yaml.safe_load(Path("inventory.yaml").read_text())
    doc["lab"].update(prefix="hu-", state_dir=str(tmp_path))
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(doc))
    assert main_cli.main(["-i", str(inventory), "impair", "show"]) == 1
    assert f"{tmp_path}/impair-hu-.sock" in capsys.readouterr().err


def test_empty_rules_are_valid():
    assert load_rules(None) == RuleSet()


# -- the pipeline inside the reference peer's own I/O ------------------------------------

class _FakeLoop:
    def __init__(self) -> None:
        self.timers: list[tuple[float, object]] = []

    def call_later(self, delay_s: float, fn) -> None:
        self.timers.append((delay_s, fn))

    def fire_all(self) -> None:
        timers, self.timers = self.timers, []
        for _, fn in sorted(timers, key=lambda t: t[0]):
            fn()


class _FakePeer:
    def __init__(self) -> None:
        import threading

        self.lock = threading.RLock()
        self.loop = _FakeLoop()
        self.impair = None


def tcp_frame(seq: int, payload: bytes = b"x" * 100) -> bytes:
    from bench.model.segment import ACK, Segment, build_frame

    seg = Segment(bytes([192, 0, 2, 2]), bytes([192, 0, 2, 10]), 40000, 5000, seq, 1, ACK,
                  65535, b"", payload)
    return build_frame(seg, b"\x02\0\0\0\x01\x02", b"\x02\0\0\0\x00\x0a")


def test_peer_io_applies_the_same_rule_objects_as_the_bridge(tmp_path):
    """Outgoing: the 3rd data segment is dropped and 50 % random loss follows the same
    seed as a bridge pipeline; incoming: a 10 ms delay holds frames on the peer's loop."""
    from bench.impair.peer_io import PeerImpairment
    from bench.model.segment import parse_frame
    from bench.wire import RxFrame

    rules = load_rules({"seed": 9,
                        "to-dut": [{"match": {"proto": "tcp", "nth": 3},
                                    "action": {"kind": "drop"}},
                                   {"select": {"kind": "random", "probability": "50%"},
                                    "action": {"kind": "drop"}}],
                        "to-bench": [{"action": {"kind": "delay", "delay_ms": "10ms"}}]})
    peer = _FakePeer()
    impair = PeerImpairment(peer, rules, tmp_path / "peer-impair.jsonl").install()
    assert peer.impair is impair
    frames = [tcp_frame(1000 + 100 * i) for i in range(40)]
    sent: list[int] = []
    for frame in frames:
        seg = parse_frame(frame, 0, 0)
        impair.outgoing(seg, frame, lambda s, f: sent.append(s.seq) or s)
    bridge = Pipeline.from_rules(rules, "to-dut")
    expected = [1000 + 100 * i for i, f in enumerate(frames) if bridge.process(f, 0)]
    assert sent == expected and 1200 not in sent and 5 < len(sent) < 35

    delivered: list[list] = []
    now = impair.arrivals([RxFrame(frames[0], time.time_ns(), 1)], delivered.append)
    assert now == [] and len(peer.loop.timers) == 1
    assert 0.005 < peer.loop.timers[0][0] <= 0.0101
    peer.loop.fire_all()
    assert [batch[0].frame_no for batch in delivered] == [1]

    counters = impair.remove()
    assert peer.impair is None
    assert counters["to-dut"]["stages"][0]["dropped"] == 1
    records = [r for r in read_log(tmp_path / "peer-impair.jsonl") if "action" in r]
    assert [r["seq"] for r in records if r["rule"] == "0:drop"] == [1200]
    assert sum(r["action"] == "delayed" for r in records) == 1


def test_deadline_reservation_parses_and_refuses_nonsense():
    from bench.impair import sched

    assert sched.parse_reservation("950:1000") == (950_000, 1_000_000)
    for bad in ("1000:950", "0:1000", "950", "a:b"):
        with pytest.raises(ValueError, match="reservation"):
            sched.parse_reservation(bad)
