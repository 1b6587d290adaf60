"""The behaviour keywords of TcpBench, as a table: the words a suite reads in, the
measurement a *When* keyword runs, the figures a *Then* keyword judges.

One row per keyword keeps the wording next to what it does, and keeps every keyword the
same thin shape: measure, or judge against the DUT's profile. Figures ending in ``?``
are optional (not observable every time, e.g. a give-up time without a RST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robot.api.deco import keyword


@dataclass(frozen=True)
class When:
    """An experiment: the keyword runs one measurement."""

    words: str
    measurement: str
    doc: str


@dataclass(frozen=True)
class Then:
    """A check: the keyword judges these figures against the DUT's profile."""

    words: str
    figures: tuple[str, ...]
    doc: str


WHEN: list[When] = [
    # HS: connection establishment
    When("The Peer Ignores Every SYN The DUT Sends", "syn_retries",
         "HS-08: the DUT connects to a port the peer blackholes; every SYN until the "
         "DUT reports the failure."),
    When("The Peer Never Completes A Handshake With The DUT", "synack_retries",
         "HS-07: one SYN from the peer to a DUT listener, never an ACK; every SYN-ACK "
         "until the DUT goes quiet."),
    When("The Peer Sends A SYN To A Port Nobody Listens On", "rst_on_closed_port",
         "HS-11: a SYN to port 47, where the DUT has no listener."),
    When("The Peer Opens Eight Connections To The DUT", "isn_predictability",
         "HS-06: eight connections to a DUT listener; their ISNs and the steps between."),
    When("The Peer Opens A Connection To The DUT", "offered_mss",
         "MS-01: the options of the DUT's SYN-ACK."),
    # CL: close and TIME_WAIT
    When("The DUT Closes First And The Peer Probes Its TIME_WAIT", "time_wait_duration",
         "CL-04: the DUT closes first; the peer's FIN, resent at chosen times on several "
         "connections, is ACKed again in TIME_WAIT and answered with RST after it."),
]

THEN: list[Then] = [
    Then("The DUT Should Retransmit SYN As Its Profile Says",
         ("syn_retries", "syn_intervals_s", "syn_backoff_factor?", "syn_give_up_s?"),
         "HS-08: retry count, every interval, the backoff factor and the give-up time."),
    Then("The DUT Should Retransmit SYN-ACK As Its Profile Says",
         ("synack_retries", "synack_intervals_s", "synack_backoff_factor?",
          "synack_half_open_rst", "synack_give_up_s?"),
         "HS-07: retry count, every interval, the backoff factor, and whether the "
         "half-open connection ends with a RST."),
    Then("The DUT Should Answer RST+ACK", ("rst_on_closed_port",),
         "HS-11: a RST+ACK whose ack is the SYN's sequence + 1."),
    Then("ISNs Should Be As Predictable As The Profile Says", ("isn_predictable",),
         "HS-06: predictable = an ISN is 0, all equal, or every step is small and "
         "forward; lwIP's counter is a documented deviation."),
    Then("Offered MSS Should Be Link MTU Minus 40", ("offered_mss_bytes",),
         "MS-01: the MSS option of the SYN-ACK against the profile (MTU - 40, or the "
         "stack's documented TCP_MSS)."),
    Then("TIME_WAIT Should Last 2MSL", ("time_wait_s",),
         "CL-04: the TIME_WAIT duration against 2MSL as the profile gives it (Linux "
         "60 s, lwIP 2 * TCP_MSL)."),
]


def python_name(words: str) -> str:
    return "kw_" + "".join(c if c.isalnum() else "_" for c in words.lower())


def _when(row: When) -> Any:
    def run(self, **options: str) -> None:  # noqa: ANN001 (Robot binds self)
        self.measure(row.measurement, **options)

    run.__doc__ = (f"{row.doc}\n\nRuns measurement ``{row.measurement}`` (options as for "
                   "`Measure`).")
    return keyword(row.words)(run)


def _then(row: Then) -> Any:
    def check(self) -> None:  # noqa: ANN001 (Robot binds self)
        self.figures_should_match_profile(*row.figures)

    figures = ", ".join(f"``{f}``" for f in row.figures)
    check.__doc__ = f"{row.doc}\n\nJudges {figures} against the DUT's profile."
    return keyword(row.words)(check)


def add_keywords(cls: type) -> None:
    """Give the library class one method per row (Robot finds them by their names)."""
    for when in WHEN:
        setattr(cls, python_name(when.words), _when(when))
    for then in THEN:
        setattr(cls, python_name(then.words), _then(then))
