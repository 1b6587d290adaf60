"""The programmed-timer estimator on simulated grids: Linux's timer wheel, lwIP's slow
tick, an exact timer, and the cases where it must refuse to give a value."""

from __future__ import annotations

import math
import random

import pytest

from bench.measure.timer_grid import Lifetime, expiry_clusters, programmed_timer


def wheel_expiry(start: float, programmed: float, grid: float, phase: float) -> float:
    """The first grid instant strictly after the deadline (calc_index() rounding)."""
    k = math.floor((start + programmed - phase) / grid) + 1
    return phase + k * grid


def observe(start: float, expiry: float, first: float, every: float) -> Lifetime:
    """Probes every `every` s from `first` after start: last alive, first gone."""
    n = math.floor((expiry - start - first) / every)
    alive = first + n * every
    if start + alive >= expiry:  # a probe exactly on the instant sees it gone
        alive -= every
    return Lifetime(start, alive, alive + every)


def staggered(programmed: float, grid: float, n: int, step: float, first: float,
              every: float, seed: int) -> list[Lifetime]:
    rng = random.Random(seed)
    phase = rng.uniform(0, grid)
    t0 = rng.uniform(0, 100)
    starts = [t0 + i * step + rng.uniform(0, 0.004) for i in range(n)]
    return [observe(s, wheel_expiry(s, programmed, grid, phase), first + rng.uniform(0, every),
                    every) for s in starts]


@pytest.mark.parametrize("seed", range(40))
def test_linux_wheel_60s_is_found_within_half_a_second(seed: int) -> None:
    lives = staggered(60.0, 2.048, n=12, step=0.2, first=59.5, every=0.05, seed=seed)
    est = programmed_timer(lives)
    assert est.low_s is not None and est.high_s is not None
    assert est.low_s < 60.0 < est.high_s  # the interval holds the truth
    assert est.half_width is not None and est.half_width <= 0.5
    assert est.grid_s is not None and 2.048 <= est.grid_s <= 2.048 + 0.2
    # each lifetime alone is 60 s plus up to one bucket late
    assert all(60.0 < lv.gone_s <= 62.1 for lv in lives)


@pytest.mark.parametrize("seed", range(40))
def test_lwip_slow_tick_2msl_within_one_tick(seed: int) -> None:
    lives = staggered(120.0, 0.5, n=4, step=0.17, first=119.8, every=0.05, seed=seed)
    est = programmed_timer(lives)
    assert est.low_s is not None and est.high_s is not None
    assert est.low_s < 120.0 < est.high_s
    assert est.half_width is not None and est.half_width <= 0.25


def test_an_exact_timer_gives_one_cluster_per_connection_and_still_holds_it() -> None:
    lives = [observe(10.0 + i * 0.3, 10.0 + i * 0.3 + 2.0, 1.9, 0.02) for i in range(5)]
    est = programmed_timer(lives)
    assert len(est.clusters) == 5
    assert est.low_s is not None and est.high_s is not None
    assert est.low_s < 2.0 <= est.high_s + 1e-9  # an exact timer: gone at the instant


def test_one_expiry_instant_gives_no_value_but_says_why() -> None:
    grid, phase = 2.048, 0.3
    starts = [5.0, 5.05, 5.1]
    lives = [observe(s, wheel_expiry(s, 60.0, grid, phase), 59.0, 0.05) for s in starts]
    assert len(expiry_clusters(lives)) == 1
    est = programmed_timer(lives)
    assert est.value is None and est.high_s is not None and est.high_s > 60.0
    assert "one instant" in est.why


def test_expiries_that_fit_no_grid_are_refused() -> None:
    # two clusters 1 s apart, but one connection lived 3 s longer than another
    lives = [Lifetime(0.0, 9.9, 10.0), Lifetime(0.5, 10.4, 10.5), Lifetime(8.0, 3.9, 4.0)]
    est = programmed_timer(lives)
    assert est.value is None
    assert "grid" in est.why


def test_no_lifetimes() -> None:
    assert programmed_timer([]).value is None
