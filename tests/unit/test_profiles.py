"""Profiles: every shipped one loads; inheritance, formulas and DUT consts give the values
the lwIP and Linux sources document; bad profiles fail with file + key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.profiles import ProfileError, load_profile, profile_names
from bench.profiles.expr import ExprError, backoff, evaluate, within
from bench.profiles.resolve import namespace, parse_const, value_of

SHIPPED = ["linux-6", "lwip-2.1.3-ci-fast", "lwip-2.1.3-stock", "lwip-2.1.3-tuned"]


def expected(profile: str, name: str, consts: dict[str, str] | None = None, **context):
    p = load_profile(profile)
    names, origin = namespace(p, consts or {}, context)
    return value_of(p.expect[name], names, origin).value


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_loads(name: str) -> None:
    assert name in profile_names()
    profile = load_profile(name)
    assert profile.expect and all(e.source for e in profile.expect.values())


def test_inventory_profile_names_are_shipped() -> None:
    assert set(SHIPPED) <= set(profile_names())


def test_variants_inherit_and_state_only_what_differs() -> None:
    stock, ci, tuned = (load_profile(f"lwip-2.1.3-{v}") for v in ("stock", "ci-fast", "tuned"))
    assert ci.inherits == "lwip-2.1.3-stock"
    assert set(ci.expect) == set(stock.expect)
    assert expected("lwip-2.1.3-stock", "time_wait_s") == 120.0
    assert expected("lwip-2.1.3-ci-fast", "time_wait_s") == 2.0
    # ci-fast overrides only the deviation text; the formula and source are inherited
    assert ci.expect["time_wait_s"].expr == stock.expect["time_wait_s"].expr
    assert "CI build" in (ci.expect["time_wait_s"].deviation or "")
    assert expected("lwip-2.1.3-tuned", "sack_out") is True
    assert expected("lwip-2.1.3-stock", "sack_out") is False
    assert tuned.expect["syn_retries"] == stock.expect["syn_retries"]


def test_lwip_schedules_follow_the_source() -> None:
    lwip = "lwip-2.1.3-stock"
    assert expected(lwip, "syn_intervals_s") == [3.0] * 6
    assert expected(lwip, "syn_give_up_s") == 18.5
    assert expected(lwip, "synack_intervals_s") == [3.0, 6.0]
    assert expected(lwip, "synack_retries") == 2
    assert expected(lwip, "persist_intervals_s") == [1.5, 3, 6, 12, 24, 48, 60]
    assert expected(lwip, "fin_wait_2_timeout_s") == 20.5
    assert expected(lwip, "initial_window_segments", peer_mss=1460, link_mtu=1500) == 4
    tuned = "lwip-2.1.3-tuned"
    assert expected(tuned, "initial_window_segments", peer_mss=1460, link_mtu=1500) == 3
    assert expected(tuned, "syn_window_bytes") == 65535


def test_linux_syn_schedule_since_6_5() -> None:
    linear = {"tcp_syn_linear_timeouts": "4"}
    assert expected("linux-6", "syn_intervals_s", linear) == [1, 1, 1, 1, 1, 2, 4, 8, 16, 32]
    assert expected("linux-6", "syn_retries", linear) == 10
    assert expected("linux-6", "syn_give_up_s", linear) == 131
    # a kernel without the sysctl (before 6.5) doubles from the start
    assert expected("linux-6", "syn_intervals_s") == [1, 2, 4, 8, 16, 32]
    assert expected("linux-6", "syn_give_up_s") == 127
    assert expected("linux-6", "syn_backoff_factor") == 2.0
    assert expected("linux-6", "syn_backoff_factor", linear) is None


def test_from_const_follows_a_changed_sysctl() -> None:
    assert expected("linux-6", "synack_retries") == 5
    assert expected("linux-6", "synack_intervals_s") == [1, 2, 4, 8, 16]
    assert expected("linux-6", "synack_give_up_s") == 63
    changed = {"tcp_synack_retries": "2"}
    assert expected("linux-6", "synack_retries", changed) == 2
    assert expected("linux-6", "synack_intervals_s", changed) == [1, 2]
    assert expected("linux-6", "synack_give_up_s", changed) == 7


def test_formula_of_the_link_mtu() -> None:
    assert expected("linux-6", "offered_mss_bytes", link_mtu=1280) == 1240
    assert expected("lwip-2.1.3-tuned", "offered_mss_bytes", link_mtu=1280) == 1240
    assert expected("lwip-2.1.3-stock", "offered_mss_bytes", link_mtu=1280) == 536


def test_choice_by_congestion_control() -> None:
    assert expected("linux-6", "cc_reduction_factor") == 0.7
    assert expected("linux-6", "cc_reduction_factor", {"tcp_congestion_control": "reno"}) == 0.5
    assert expected("linux-6", "cc_reduction_factor", {"tcp_congestion_control": "bbr"}) is None


def test_const_parsing() -> None:
    assert parse_const("6") == 6
    assert parse_const("0.5") == 0.5
    assert parse_const("cubic") == "cubic"
    assert parse_const("4096,131072,6291456") == [4096, 131072, 6291456]


def test_formulas_are_safe() -> None:
    assert evaluate("link_mtu - 40", {"link_mtu": 1280}) == 1240
    assert evaluate("backoff(1, 4, linear=1)", {}) == [1, 1, 2, 4]
    for bad in ("__import__('os')", "open('x')", "x.__class__", "[i for i in y]", "lambda: 1"):
        with pytest.raises(ExprError):
            evaluate(bad, {"x": 1, "y": [1]})
    with pytest.raises(ExprError, match="peer_mss"):
        evaluate("peer_mss - 12", {})


def test_backoff_and_within() -> None:
    assert backoff(3, 6, factor=1) == [3] * 6
    assert backoff(1, 9, cap=120)[-1] == 120
    assert within(backoff(3, 12), 20) == [3, 6]


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / f"{name}.yaml").write_text(text)


BASE = """\
stack: test
expect:
  syn_retries: {value: 6, unit: count, source: "opt.h TCP_SYNMAXRTX"}
"""


def errors(tmp_path: Path, name: str) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        load_profile(name, tmp_path)
    return caught.value.lines


def test_unknown_key_names_file_and_key_path(tmp_path: Path) -> None:
    write(tmp_path, "base", BASE)
    write(tmp_path, "child", "inherits: base\nexpect:\n  syn_retries: {tolerence: {abs: 1}}\n")
    lines = errors(tmp_path, "child")
    assert lines == [
        f"{tmp_path / 'child.yaml'}: expect.syn_retries.tolerence: unknown key (check the spelling)"
    ]


def test_bad_profiles_give_one_line_each(tmp_path: Path) -> None:
    write(tmp_path, "two", BASE.replace("value: 6", "value: 6, expr: '6'"))
    assert "give exactly one of value, expr, from_const, by" in errors(tmp_path, "two")[0]
    write(tmp_path, "formula", BASE.replace("value: 6", "expr: 'os.system(1)'"))
    assert "expect.syn_retries.expr" in errors(tmp_path, "formula")[0]
    write(tmp_path, "nosource", "stack: t\nexpect:\n  x_s: {value: 1, unit: s}\n")
    assert errors(tmp_path, "nosource") == [
        f"{tmp_path / 'nosource.yaml'}: expect.x_s.source: required key is missing"
    ]
    write(tmp_path, "orphan", "inherits: nowhere\n" + BASE)
    assert "unknown profile 'nowhere'" in errors(tmp_path, "orphan")[0]
    write(tmp_path, "a", "inherits: b\n" + BASE)
    write(tmp_path, "b", "inherits: a\n" + BASE)
    assert "loop a -> b -> a" in errors(tmp_path, "a")[0]
    write(tmp_path, "syntax", "stack: [\n")
    assert "YAML syntax error" in errors(tmp_path, "syntax")[0]


def test_variant_may_switch_a_literal_to_a_formula(tmp_path: Path) -> None:
    write(tmp_path, "base", BASE)
    write(tmp_path, "child", "inherits: base\nexpect:\n  syn_retries: {expr: '3 + 3'}\n")
    child = load_profile("child", tmp_path)
    assert child.expect["syn_retries"].expr == "3 + 3"
    assert child.expect["syn_retries"].source == "opt.h TCP_SYNMAXRTX"
