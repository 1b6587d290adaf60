"""The programmed length of a timer that fires on a coarse grid, from its lifetimes.

Stacks rarely fire a timer at the instant it was programmed for. Linux puts a 60 s
TIME_WAIT timer on a timer-wheel level whose buckets are 2.048 s wide at HZ=250 and
fires it at the first bucket boundary after the deadline; lwIP checks its TIME_WAIT
pcbs on a 500 ms slow tick. Each connection's lifetime on the wire is therefore the
programmed length P plus a lateness in (0, g], where g is the grid's period, and the
lateness depends on where in the period the connection started.

Several connections started at staggered phases expire on a few grid instants. Their
expiry brackets cluster on those instants; the spacing of the clusters bounds g; and
each connection then bounds P: expiry - start - g <= P < expiry - start. The
intersection over connections is the estimate. With starts spread over at least one
period it narrows to about the stagger step, whatever g is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lifetime:
    """One timer seen on the wire: when it was armed, last seen alive, first seen gone
    (all seconds; `alive_s` and `gone_s` are offsets from `start_s`)."""

    start_s: float
    alive_s: float
    gone_s: float

    @property
    def expiry(self) -> tuple[float, float]:
        """The absolute instant it ended lies in (start + alive, start + gone]."""
        return self.start_s + self.alive_s, self.start_s + self.gone_s


@dataclass(frozen=True)
class Cluster:
    """Expiries that share one grid instant: it lies in (low, high]."""

    low: float
    high: float
    members: list[int]


@dataclass(frozen=True)
class TimerEstimate:
    """P lies in (low_s, high_s); `grid_s` is the firing grid's period as seen (an upper
    bound, None when every connection expired on one instant)."""

    low_s: float | None
    high_s: float | None
    grid_s: float | None
    clusters: list[Cluster]
    why: str

    @property
    def value(self) -> float | None:
        if self.low_s is None or self.high_s is None:
            return None
        return (self.low_s + self.high_s) / 2

    @property
    def half_width(self) -> float | None:
        if self.low_s is None or self.high_s is None:
            return None
        return (self.high_s - self.low_s) / 2


def expiry_clusters(lives: list[Lifetime]) -> list[Cluster]:
    """Group expiry brackets that overlap (one grid instant lies in all of them)."""
    order = sorted(range(len(lives)), key=lambda i: lives[i].expiry[0])
    clusters: list[Cluster] = []
    for i in order:
        low, high = lives[i].expiry
        last = clusters[-1] if clusters else None
        if last is not None and low < last.high:
            clusters[-1] = Cluster(max(last.low, low), min(last.high, high),
                                   [*last.members, i])
        else:
            clusters.append(Cluster(low, high, [i]))
    return clusters


def programmed_timer(lives: list[Lifetime]) -> TimerEstimate:
    """Bound the programmed timer P from lifetimes of timers that fire on a grid."""
    if not lives:
        return TimerEstimate(None, None, None, [], "no connection was seen to expire")
    clusters = expiry_clusters(lives)
    high = min(c.high - lives[i].start_s for c in clusters for i in c.members)
    if len(clusters) < 2:
        return TimerEstimate(None, high, None, clusters,
                             "every connection expired on one instant: the firing grid "
                             "is unknown (stagger the connections over a longer span)")
    # the widest spacing two neighbouring instants can have
    grid = min(b.high - a.low for a, b in zip(clusters, clusters[1:], strict=False))
    low = max(c.low - grid - lives[i].start_s for c in clusters for i in c.members)
    if low >= high:
        return TimerEstimate(None, high, grid, clusters,
                             "the expiries do not fit one firing grid")
    return TimerEstimate(low, high, grid, clusters,
                         f"{len(lives)} connections expired on {len(clusters)} instants "
                         f"of a grid of at most {grid:.3f} s")
