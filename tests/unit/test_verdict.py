"""Verdicts: tolerance edges, lists element by element, deviations, following the DUT's
consts and context, and messages that name expected, measured, tolerance and evidence."""

from __future__ import annotations

from typing import Any

import pytest

from bench.measure.result import Evidence, Measurement, Tolerance
from bench.profiles import load_profile
from bench.verdict import Outcome, judge

EVIDENCE = Evidence(pcap="pcaps/CL-04.pcapng", frames=[12, 57])


def measure(name: str, value: Any, unit: str, **extra: Any) -> Measurement:
    return Measurement(name=name, dut="lwip-m3", value=value, unit=unit, evidence=EVIDENCE, **extra)


def verdict(profile: str, m: Measurement, consts: dict[str, str] | None = None, **ctx: Any):
    return judge(m, load_profile(profile), consts or {}, ctx)


def test_message_names_expected_measured_tolerance_and_evidence() -> None:
    v = verdict("lwip-2.1.3-stock", measure("fin_wait_2_timeout_s", 20.54, "s"))
    assert v.outcome is Outcome.PASS
    assert v.tolerance == 0.5
    assert v.message.startswith(
        "fin_wait_2_timeout_s: expected 20.5 s +-0.5 s (tcp_priv.h:131 TCP_FIN_WAIT_TIMEOUT; ")
    assert v.message.endswith(
        "), measured 20.54 s; evidence pcaps/CL-04.pcapng frames 12, 57")


@pytest.mark.parametrize(
    ("measured", "outcome"),
    [(20.0, Outcome.PASS), (21.0, Outcome.PASS), (21.01, Outcome.FAIL), (19.99, Outcome.FAIL)],
)
def test_exactly_at_the_boundary_passes(measured: float, outcome: Outcome) -> None:
    v = verdict("lwip-2.1.3-stock", measure("fin_wait_2_timeout_s", measured, "s"))
    assert v.outcome is outcome


def test_linux_tolerance_is_packetdrills_max_4ms_or_12_5_percent() -> None:
    at_edge = verdict("linux-6", measure("synack_give_up_s", 70.875, "s"))  # 63 * 1.125
    assert at_edge.tolerance == pytest.approx(7.875)
    assert at_edge.outcome is Outcome.PASS
    assert verdict("linux-6", measure("synack_give_up_s", 71.0, "s")).outcome is Outcome.FAIL
    small = verdict("linux-6", measure("rto_initial_ms", 1000, "ms"))
    assert small.tolerance == pytest.approx(125)


def test_the_measurements_own_uncertainty_widens_the_tolerance() -> None:
    coarse = Tolerance(abs=0.8, why="console polled every 0.8 s")
    v = verdict("lwip-2.1.3-stock", measure("fin_wait_2_timeout_s", 21.2, "s", tolerance=coarse))
    assert v.outcome is Outcome.PASS and v.tolerance == 0.8
    assert "console polled" in v.tolerance_why


def test_counts_are_exact() -> None:
    assert verdict("lwip-2.1.3-stock", measure("syn_retries", 6, "count")).outcome is Outcome.PASS
    v = verdict("lwip-2.1.3-stock", measure("syn_retries", 5, "count"))
    assert v.outcome is Outcome.FAIL and "off by -1" in v.message


def test_lists_compare_element_wise_with_a_length_check() -> None:
    ok = verdict("lwip-2.1.3-stock", measure("synack_intervals_s", [2.6, 6.2], "s"))
    assert ok.outcome is Outcome.PASS and ok.tolerance == [0.5, 0.5]
    off = verdict("lwip-2.1.3-stock", measure("synack_intervals_s", [2.6, 7.0], "s"))
    assert off.outcome is Outcome.FAIL
    assert off.problems == ["element 2: 7.0 vs 6.0, off by +1.0 s, more than +-0.5 s"]
    short = verdict("lwip-2.1.3-stock", measure("synack_intervals_s", [2.6], "s"))
    assert short.outcome is Outcome.FAIL and "1 elements, expected 2" in short.message


def test_a_schedule_that_repeats_its_last_interval_may_stop_early() -> None:
    persist = [1.2, 3.1, 6, 12, 24, 48, 60, 60.3, 59.8]
    assert verdict("lwip-2.1.3-stock", measure("persist_intervals_s", persist, "s")).ok
    early = verdict("lwip-2.1.3-stock", measure("persist_intervals_s", [1.4, 3.0], "s"))
    assert early.outcome is Outcome.PASS


def test_deviation_is_documented_not_failed() -> None:
    v = verdict("lwip-2.1.3-stock", measure("syn_intervals_s", [2.7, 3, 3, 3, 3, 3], "s"))
    assert v.outcome is Outcome.DEVIATION and v.ok
    assert "without exponential backoff" in (v.deviation or "")
    assert "documented deviation" in v.message
    rst = verdict("linux-6", measure("synack_half_open_rst", False, "bool"))
    assert rst.outcome is Outcome.DEVIATION


def test_a_stack_that_meets_the_catalogue_passes_despite_a_deviation_text() -> None:
    # tuned lwIP offers MTU - 40 like the catalogue: no deviation to report
    v = verdict("lwip-2.1.3-tuned", measure("offered_mss_bytes", 1460, "bytes"), link_mtu=1500)
    assert v.outcome is Outcome.PASS
    stock = verdict("lwip-2.1.3-stock", measure("offered_mss_bytes", 536, "bytes"), link_mtu=1500)
    assert stock.outcome is Outcome.DEVIATION


def test_failing_against_a_deviation_says_when_the_catalogue_is_met() -> None:
    v = verdict("lwip-2.1.3-stock", measure("isn_predictable", False, "bool"))
    assert v.outcome is Outcome.FAIL
    assert "meets the catalogue's generic false" in v.message


def test_booleans_and_strings_compare_exactly() -> None:
    assert verdict("linux-6", measure("rst_on_closed_port", True, "bool")).outcome is Outcome.PASS
    v = verdict("linux-6", measure("rst_on_closed_port", 1, "bool"))
    assert v.outcome is Outcome.FAIL and "not a bool" in v.message


def test_expectation_follows_a_changed_sysctl() -> None:
    m = measure("synack_retries", 2, "count")
    assert verdict("linux-6", m).outcome is Outcome.FAIL
    changed = verdict("linux-6", m, {"tcp_synack_retries": "2"})
    assert changed.outcome is Outcome.PASS
    assert "follows tcp_synack_retries=2 from the DUT" in changed.message


def test_formula_of_the_link_mtu_from_context() -> None:
    m = measure("offered_mss_bytes", 1240, "bytes")
    v = verdict("linux-6", m, link_mtu=1280)
    assert v.outcome is Outcome.PASS and v.expected == 1240


def test_at_most_is_an_upper_bound() -> None:
    assert verdict("linux-6", measure("delayed_ack_max_ms", 40, "ms")).outcome is Outcome.PASS
    assert verdict("linux-6", measure("delayed_ack_max_ms", 226, "ms")).outcome is Outcome.FAIL


def test_units_convert_between_s_and_ms() -> None:
    v = verdict("lwip-2.1.3-stock", measure("syn_give_up_s", 18400, "ms"))
    assert v.outcome is Outcome.PASS and v.measured == pytest.approx(18.4)


@pytest.mark.parametrize(
    ("profile", "m", "consts", "why"),
    [
        ("linux-6", measure("no_such_figure", 1, "count"), {}, "no expectation"),
        ("linux-6", measure("window_scale_shift", 7, "count"), {}, "not a documented"),
        (
            "linux-6",
            measure("cc_reduction_factor", 0.8, "ratio"),
            {"tcp_congestion_control": "bbr"},
            "no fixed value for tcp_congestion_control=bbr",
        ),
        ("lwip-2.1.3-stock", measure("largest_payload_bytes", 536, "bytes"), {}, "peer_mss"),
        ("lwip-2.1.3-stock", measure("time_wait_s", 120, "bytes"), {}, "measured in 'bytes'"),
    ],
)
def test_not_judged_says_why(profile: str, m: Measurement, consts: dict, why: str) -> None:
    v = verdict(profile, m, consts)
    assert v.outcome is Outcome.NOT_JUDGED and v.ok
    assert why in v.message


def test_nothing_measured_fails() -> None:
    v = verdict("lwip-2.1.3-stock", measure("time_wait_s", None, "s"))
    assert v.outcome is Outcome.FAIL and "nothing was measured" in v.message


def test_verdict_serialises_to_json() -> None:
    v = verdict("lwip-2.1.3-ci-fast", measure("time_wait_s", 2.04, "s"), {"TCP_MSL": "1000"})
    data = v.model_dump(mode="json")
    assert data["outcome"] == "deviation" and data["expected"] == 2.0
    assert data["evidence"]["frames"] == [12, 57]
