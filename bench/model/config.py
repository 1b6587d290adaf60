"""What a connection of the model offers and how it behaves, chosen per connection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConnOptions:
    """Per-connection choices. Defaults follow the RFCs, not any one stack.

    Offered options: `mss_bytes` (None: no MSS option), `wscale` (None: not offered),
    `sack_permitted`, `timestamps`. `window_bytes` is the receive buffer, which bounds
    the advertised window. `iss` fixes the initial sequence number (None: random)."""

    mss_bytes: int | None = 1460
    wscale: int | None = 7
    sack_permitted: bool = True
    timestamps: bool = True
    window_bytes: int = 1 << 20
    iss: int | None = None
    mtu_bytes: int = 1500
    # timers (RFC 6298 defaults; tests shorten them)
    rto_initial_s: float = 1.0
    rto_min_s: float = 1.0
    rto_max_s: float = 60.0
    syn_retries: int = 6
    max_retries: int = 15
    delayed_ack_s: float = 0.2  # 0: ACK every segment at once
    ack_every_segments: int = 2
    coalesce_acks: bool = True  # one ACK per received batch of in-order segments
    persist_max_s: float = 60.0
    time_wait_s: float = 60.0
    initial_cwnd_bytes: int | None = None
    paws: bool = True
    challenge_acks: bool = True  # RFC 5961 sections 3-5
