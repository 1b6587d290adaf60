"""Retransmission timeout per RFC 6298 (SRTT, RTTVAR, backoff). Karn's rule is the
caller's job: only feed samples from segments that were never retransmitted."""

from __future__ import annotations


class RtoEstimator:
    def __init__(self, initial_s: float = 1.0, min_s: float = 1.0, max_s: float = 60.0,
                 granularity_s: float = 0.001) -> None:
        self.initial_s = initial_s
        self.min_s = min_s
        self.max_s = max_s
        self.granularity_s = granularity_s
        self.srtt_s: float | None = None
        self.rttvar_s: float | None = None
        self.base_s = initial_s
        self.backoffs = 0

    @property
    def rto_s(self) -> float:
        return min(self.base_s * (2 ** self.backoffs), self.max_s)

    def sample(self, rtt_s: float) -> None:
        """A new round-trip measurement (RFC 6298 sections 2.2 and 2.3)."""
        if self.srtt_s is None or self.rttvar_s is None:
            self.srtt_s = rtt_s
            self.rttvar_s = rtt_s / 2
        else:
            self.rttvar_s = 0.75 * self.rttvar_s + 0.25 * abs(self.srtt_s - rtt_s)
            self.srtt_s = 0.875 * self.srtt_s + 0.125 * rtt_s
        rto = self.srtt_s + max(self.granularity_s, 4 * self.rttvar_s)
        self.base_s = min(max(rto, self.min_s), self.max_s)
        self.backoffs = 0

    def back_off(self) -> None:
        """The timer expired: double the RTO (section 5.5), bounded by max_s."""
        if self.base_s * (2 ** self.backoffs) < self.max_s:
            self.backoffs += 1

    def reset_backoff(self) -> None:
        """New data was acknowledged; keep the backed-off value only until a sample."""
        self.backoffs = 0

    def syn_lost(self) -> None:
        """The SYN timed out and no sample exists: use 3 s once data flows (5.7)."""
        if self.srtt_s is None:
            self.base_s = max(self.base_s, 3.0)
