"""NewReno congestion control (RFC 5681 slow start / congestion avoidance / fast
retransmit, RFC 6582 partial-ACK handling). Byte counting; the TCB does the sending.
With `sack`, recovery follows RFC 6675 instead: cwnd = ssthresh on entry, no inflation
per duplicate ACK nor deflation per partial ACK (the TCB's scoreboard paces resends)."""

from __future__ import annotations


def initial_window_bytes(smss: int) -> int:
    """RFC 5681 section 3.1 (RFC 3390): min(4*SMSS, max(2*SMSS, 4380))."""
    return min(4 * smss, max(2 * smss, 4380))


class NewReno:
    def __init__(self, smss: int, initial_cwnd_bytes: int | None = None) -> None:
        self.smss = smss
        self.cwnd = initial_cwnd_bytes or initial_window_bytes(smss)
        self.ssthresh = 1 << 30
        self.dupacks = 0
        self.in_recovery = False
        self.recover = 0
        self._ca_acked = 0
        self.fast_retransmits = 0
        self.timeouts = 0

    def on_ack(self, ack: int, acked: int, flight_after: int, sack: bool = False) -> bool:
        """New data ACKed. True when it is a partial ACK in recovery: the caller must
        retransmit the first unacknowledged segment (RFC 6582 section 3.2 step 3), or
        with `sack` the next holes (RFC 6675 section 5 step C)."""
        smss = self.smss
        if self.in_recovery:
            if ack >= self.recover:
                self.in_recovery = False
                self.dupacks = 0
                self.cwnd = min(self.ssthresh, max(flight_after, smss) + smss)
                return False
            if sack:
                return True
            self.cwnd = max(self.cwnd - acked, smss)
            if acked >= smss:
                self.cwnd += smss
            return True
        self.dupacks = 0
        if self.cwnd < self.ssthresh:
            self.cwnd += min(acked, smss)
        else:
            self._ca_acked += acked
            if self._ca_acked >= self.cwnd:
                self._ca_acked -= self.cwnd
                self.cwnd += smss
        return False

    def on_dupack(self, snd_una: int, snd_max: int, sack: bool = False) -> bool:
        """A duplicate ACK. True when this is the third: fast retransmit now."""
        smss = self.smss
        if self.in_recovery:
            if not sack:
                self.cwnd += smss
            return False
        self.dupacks += 1
        if self.dupacks == 3 and snd_una >= self.recover:
            flight = snd_max - snd_una
            self.ssthresh = max(flight // 2, 2 * smss)
            self.cwnd = self.ssthresh if sack else self.ssthresh + 3 * smss
            self.recover = snd_max
            self.in_recovery = True
            self.fast_retransmits += 1
            return True
        return False

    def on_timeout(self, flight: int, snd_max: int) -> None:
        """RTO expired: ssthresh from the flight, cwnd to the loss window (1 SMSS)."""
        self.ssthresh = max(flight // 2, 2 * self.smss)
        self.cwnd = self.smss
        self.in_recovery = False
        self.dupacks = 0
        self.recover = snd_max
        self._ca_acked = 0
        self.timeouts += 1
