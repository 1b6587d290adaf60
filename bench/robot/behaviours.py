"""The behaviour keywords of TcpBench, as a table: the words a suite reads in, the
measurement a *When* keyword runs, the figures a *Then* keyword judges.

One row per keyword keeps the wording next to what it does, and keeps every keyword the
same thin shape: measure, or judge against the DUT's profile. Figures ending in ``?``
are optional (not observable every time, e.g. a give-up time without a RST).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from robot.api.deco import keyword


@dataclass(frozen=True)
class When:
    """An experiment: the keyword runs one measurement."""

    words: str
    measurement: str
    doc: str
    options: dict[str, Any] = field(default_factory=dict)  # fixed by the wording


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
    When("The Peer Opens A Connection Over A 1280-Byte Link", "offered_mss",
         "MS-01: the DUT's link MTU is set to 1280 for the experiment.", {"link_mtu": 1280}),
    When("The Peer Opens A Connection Over A 576-Byte Link", "offered_mss",
         "MS-01: the DUT's link MTU is set to 576 for the experiment.", {"link_mtu": 576}),
    When("The Peer Offers Each MSS And The DUT Sends", "largest_segment",
         "MS-02, MS-03: for a peer MSS of 536, 1000, 1460, 9000 and none, the DUT sends "
         "8000 bytes; the largest payload of each."),
    When("The DUT Sends Over A 1280-Byte Link To A Peer Offering A Larger MSS",
         "largest_segment", "MS-04: link MTU 1280, peer MSS 1460 and 9000.",
         {"link_mtu": 1280, "peer_mss": [1460, 9000]}),
    When("The Peer Answers The DUT's Data With ICMP Fragmentation Needed", "pmtud",
         "MS-04: the DUT sends; the peer holds its ACKs and answers the first segment with "
         "ICMP 3/4, next-hop MTU 1280."),
    When("The DUT Sends A Bulk Transfer", "seq_accounting",
         "DT-01: the sequence and acknowledgment numbers of a bulk transfer both ways."),
    When("The Peer Sends A Segment With A Bad Checksum", "bad_checksum",
         "DT-02: a data segment whose TCP checksum is wrong."),
    When("The Peer Sends The Same Segment Twice", "duplicate_segment",
         "DT-03: a data segment, then the same segment again."),
    When("The Peer Sends Segments With Broken Headers", "header_robustness",
         "DT-08: data offset below 5, beyond the segment, malformed and oversized options."),
    When("The Peer Sends RSTs In And Out Of The Window", "rst_handling",
         "RS-01: an out-of-window RST, an in-window inexact RST, then an exact one."),
    When("The DUT's Application Aborts A Connection", "abort_rst",
         "RS-02: console `abort` on an established connection."),
    When("The Peer Sends Datagrams To A DUT Echo Port", "udp_echo",
         "UD-01: datagrams of 1 to 1472 bytes to a UDP echo port."),
    When("The Peer Sends A Datagram With A Bad Checksum", "udp_bad_checksum",
         "UD-02: a datagram whose UDP checksum is wrong, to a counting port."),
    When("The Peer Sends A Datagram To A Closed UDP Port", "udp_closed_port",
         "UD-03: a datagram to a port nobody bound."),
    # CC: congestion control (and DT-04, the RTO)
    When("The DUT Sends A Bulk Transfer To The Peer", "slow_start",
         "CC-01: the peer clocks the DUT's transfer round by round and ACKs every segment."),
    When("The Peer Loses One Segment Of The DUT's Flight", "fast_retransmit",
         "CC-02 to CC-04: one data segment dropped; the peer sends duplicate ACKs."),
    When("The Peer Loses A Whole Flight And Stops Acknowledging", "rto_backoff",
         "CC-05, DT-04: no ACK comes back; the DUT's retransmissions until it gives up."),
    When("The Path Drops A Burst Of The DUT's Segments", "burst_loss",
         "CC-03, CC-05: the impairment bridge drops consecutive data segments of one "
         "connection (profile `measure: burst_loss`); its log is the evidence."),
    When("The Path Drops The DUT's Data At Random", "loss_sweep",
         "CC-06: the impairment bridge drops the DUT's data with probability p behind a "
         "fixed delay; goodput per p, repeated.", ),
    When("The DUT Sends Into Small Windows The Peer Advertises", "flight_window",
         "FC-01: the peer advertises small windows from its SYN on; the DUT sends."),
    When("The Peer Closes Its Window And Its Window Update Is Lost", "zero_window",
         "FC-02: the peer advertises 0, then reopens with an update it drops."),
    When("The Peer Connects With And Without Window Scaling", "window_scaling",
         "FC-03: one connection offering window scale, one not; the DUT's later windows."),
    When("The DUT's Application Stops Reading And Then Reads Again", "receive_window",
         "FC-04: console `rx hold` lets the DUT's window close, `rx discard` reopens it."),
    When("The Peer Sends A Segment Out Of Order", "ooo_ack",
         "DT-05, DT-06: a gap in the peer's data; the DUT's ACKs and SACK blocks."),
    When("The Peer Loses Two Of The DUT's Segments With SACK On", "sack_recovery",
         "DT-06: the peer (SACK-permitted) drops two segments of the DUT's flight."),
    When("The Peer Sends Single Segments", "delayed_ack",
         "DT-07: single segments with gaps, then a run of full segments."),
    When("The DUT And The Peer Open Connections To Each Other", "handshake",
         "HS-01 to HS-04: the DUT connects to the peer and the peer to the DUT; every "
         "segment of both handshakes, the options offered, data both ways."),
    When("The Peer Sends Data On The Third Handshake Segment", "third_segment_data",
         "HS-05: the ACK that completes the peer's handshake carries 100 bytes."),
    When("The Peer Sends A SYN-ACK The DUT Never Asked For", "stale_synack",
         "HS-09: a SYN-ACK for no connection of the DUT's; then a half-open entry the "
         "peer resets."),
    When("The Peer Sends Segments With Unacceptable Numbers", "unacceptable_seq",
         "HS-10: an out-of-window segment in ESTABLISHED, an unacceptable ACK in SYN-RCVD."),
    When("The Peer Asks For A Fast Open Cookie", "tfo",
         "HS-13: a SYN with the TFO cookie request option (kind 34)."),
    When("The DUT And The Peer Send SYNs That Cross", "simultaneous_open",
         "HS-14: the DUT connects from a known port while the peer's own SYN to that port "
         "crosses it."),
    When("The Peer Floods The DUT With SYNs From Spoofed Lab Addresses", "syn_flood",
         "HS-12: a bounded SYN flood from the lab's spoofed range to a listener with a "
         "small backlog, legitimate connections during it, probes after it."),
    # CL: close and TIME_WAIT
    When("The DUT Closes First", "active_close",
         "CL-01: the DUT's application closes; the peer ACKs the FIN (ack u+1)."),
    When("The Peer Sends Data After The DUT's FIN And Then Closes", "half_close",
         "CL-02: data from the peer after the DUT's FIN; after the peer's FIN the DUT "
         "sends."),
    When("The Peer Closes First And Then The DUT", "passive_close",
         "CL-03: the peer's FIN, then the DUT's application closes."),
    When("The Peer Resends Its FIN Into The DUT's TIME_WAIT", "time_wait_restart",
         "CL-05: the final ACK is lost; the peer's FIN comes again, twice."),
    When("The Peer Answers The DUT's FIN With FIN+ACK", "fin_ack_close",
         "CL-06: FIN and ACK of the DUT's FIN in one segment."),
    When("Both FINs Cross", "simultaneous_close",
         "CL-07: the peer sends its FIN as the DUT's FIN arrives."),
    When("The Peer Closes A Connection The DUT Has Nothing More To Send On",
         "merged_close", "CL-08: the DUT as passive closer with an idle application."),
    When("The Peer Closes And The DUT's Application Stays Idle", "close_wait_leak",
         "CL-09: the peer's FIN; the DUT's application never closes."),
    When("The DUT Closes And The Peer Never Sends Its FIN", "fin_wait_2_timeout",
         "CL-10: the DUT's close is ACKed, then nothing."),
    When("The Peer Sends A New SYN For A Connection In TIME_WAIT", "time_wait_syn_reuse",
         "CL-11: the same 4-tuple, a higher ISN, while the DUT holds it in TIME_WAIT."),
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
    Then("Every Handshake Segment Should Carry The Right Flags And Numbers",
         ("handshake_conforms", "handshake_rtt_ms?"),
         "HS-01 to HS-03: a bare SYN with ISN x; SYN-ACK with ISN y and ack x+1; ACK "
         "x+1 / y+1; both ESTABLISHED and data both ways."),
    Then("The DUT Should Offer The Options Its Profile Says",
         ("offered_mss_bytes", "window_scale", "window_scale_shift?", "sack_permitted",
          "timestamps", "syn_window_bytes"),
         "HS-04: MSS, window scale, SACK-permitted, timestamps and the SYN's window."),
    Then("Data On The Third Segment Should Be Delivered",
         ("third_segment_data_bytes", "third_segment_data_accepted"),
         "HS-05: the listener delivers the data of the handshake's third segment."),
    Then("The DUT Should Reset The Stale SYN-ACK And Free The Half-Open Entry",
         ("rst_on_stale_synack", "half_open_freed_on_rst", "half_open_freed_s?"),
         "HS-09: RST for a SYN-ACK it did not ask for; a reset half-open entry is freed."),
    Then("The DUT Should Answer Unacceptable Segments As Its Profile Says",
         ("unacceptable_seq_reply", "unacceptable_seq_conn_ok",
          "unacceptable_ack_synrcvd_reply"),
         "HS-10: an ACK for out-of-window data (the connection unharmed), RST for an "
         "unacceptable ACK in SYN-RCVD."),
    Then("Fast Open Support Should Be As The Profile Says", ("tfo_supported",),
         "HS-13: a cookie in the SYN-ACK means TFO is on."),
    Then("Simultaneous Open Should Reach ESTABLISHED",
         ("simultaneous_open_state", "simultaneous_open_synack"),
         "HS-14: both sides reach ESTABLISHED; whether the DUT answers the crossing SYN."),
    Then("The SYN Queue Should Be Bounded And The DUT Should Recover",
         ("half_open_queue_size", "legit_connect_success_pct", "syn_flood_recovery_s",
          "syn_cookies"),
         "HS-12: half-open queue size, legitimate connects during the flood, recovery "
         "time, SYN cookies."),
    Then("Segments Should Fit The Peer's MSS And The Link", ("largest_payload_bytes",),
         "MS-02: the largest payload for each peer MSS: never above it, nor the link's."),
    Then("Without An MSS Option The DUT Should Assume 536", ("default_mss_bytes",),
         "MS-03: the largest payload when the peer's SYN has no MSS option."),
    Then("The DUT Should Fit Its Segments To The Path MTU",
         ("pmtud_df_set", "pmtud_segment_before_bytes", "pmtud_segment_after_bytes",
          "pmtud_reaction_ms?"),
         "MS-04: DF set; segments shrink to the ICMP's MTU, and how fast (or, for a "
         "stack without PMTUD, the documented deviation)."),
    Then("Sequence Numbers Should Count Bytes And ACKs Be Cumulative",
         ("seq_counts_bytes", "ack_cumulative"), "DT-01: seed 003's worked example."),
    Then("The Segment Should Be Dropped Unacknowledged",
         ("bad_checksum_dropped", "bad_checksum_delivered_bytes"),
         "DT-02: not ACKed, nothing delivered."),
    Then("The Duplicate Should Be ACKed And Delivered Once",
         ("duplicate_acked", "duplicate_delivered_once"), "DT-03."),
    Then("The DUT Should Drop Them And Keep Answering",
         ("header_robustness_survives", "bad_data_offset_dropped"),
         "DT-08: broken headers dropped; the console and a new connection still work."),
    Then("Only An Acceptable RST Should Abort The Connection",
         ("rst_in_window_aborts", "rst_out_of_window_ignored", "rst_challenge_ack"),
         "RS-01: out-of-window ignored, inexact in-window challenged (RFC 5961), exact "
         "aborts."),
    Then("The DUT Should Send RST", ("abort_sends_rst",),
         "RS-02: the abort sends a RST with the right sequence number."),
    Then("Each Datagram Should Come Back Whole", ("udp_boundaries_kept",),
         "UD-01: one datagram in, one identical datagram out."),
    Then("The Datagram Should Not Be Delivered",
         ("udp_bad_checksum_dropped", "udp_bad_checksum_delivered"), "UD-02."),
    Then("The DUT Should Answer ICMP Port Unreachable", ("udp_port_unreachable",),
         "UD-03: where the profile says the stack implements it."),
    Then("The First Flight Should Be The Initial Window And Double Each RTT",
         ("initial_window_segments", "initial_flight_segments?",
          "slow_start_growth_factor?"),
         "CC-01: IW (segments) and growth per round in slow start."),
    Then("Congestion Avoidance Should Grow By About One MSS Per RTT",
         ("ca_growth_segments_per_rtt?",),
         "CC-02: growth per round above ssthresh (not observable when the send buffer, "
         "not cwnd, limits the flight, as on stock lwIP)."),
    Then("The DUT Should Fast Retransmit After Three Duplicate ACKs",
         ("fast_retransmit_dupacks", "fast_retransmit_delay_rtt"),
         "CC-03: duplicate ACKs before the resend, and the resend within about one RTT."),
    Then("The Congestion Window Should Drop By The Profile's Factor",
         ("cc_reduction_factor", "spurious_retransmissions"),
         "CC-04: ssthresh/cwnd after the loss (Reno 0.5, CUBIC 0.7; BBR: not a factor)."),
    Then("The DUT Should Collapse Its Window And Slow-Start Again",
         ("cwnd_after_rto_segments",), "CC-05: the loss window after an RTO."),
    Then("The DUT Should Back Off Its RTO As Its Profile Says",
         ("rto_min_ms?", "rto_intervals_s?", "rto_backoff_factor", "data_retries?",
          "data_give_up_rst?"),
         "DT-04: the first RTO, the backoff, the retries and how the connection ends."),
    Then("The DUT Should Repair Every Segment Of The Burst",
         ("burst_loss_recovered", "burst_resends?", "burst_recovery_ms?"),
         "CC-03, CC-05: every lost offset resent and all bytes delivered; resends and "
         "recovery time reported (fast retransmit, NewReno partial ACKs, or an RTO)."),
    Then("Goodput Should Stay Within The Mathis Band",
         ("goodput_mbps", "goodput_mathis_ratio?"),
         "CC-06: goodput per loss probability against MSS/RTT * C/sqrt(p)."),
    Then("The DUT's Flight Should Never Exceed The Peer's Window",
         ("max_flight_window_ratio",), "FC-01: max bytes in flight / advertised window."),
    Then("The DUT Should Probe The Zero Window As Its Profile Says And Recover",
         ("persist_intervals_s", "persist_first_probe_s?", "persist_backoff_factor?",
          "zero_window_recovered"),
         "FC-02: first probe, probe intervals and backoff; no deadlock."),
    Then("Window Scaling Should Be Used Only When Both Sides Offered It",
         ("window_scale_honoured", "window_scale", "window_scale_shift?",
          "scaled_window_max_bytes?", "unscaled_window_max_bytes?"),
         "FC-03: scaled windows with a scaling peer, unscaled without."),
    Then("The DUT's Window Should Close And Reopen Truthfully",
         ("receiver_window_reopens", "receiver_window_closes", "receiver_window_update",
          "receiver_window_shrinks"),
         "FC-04: closes while the application holds data, reopens with an update, never "
         "shrinks."),
    Then("The DUT Should Send A Duplicate ACK At Once",
         ("ooo_immediate_ack", "ooo_ack_delay_ms?"), "DT-05."),
    Then("The DUT Should Report SACK Blocks As Its Profile Says",
         ("sack_out", "sack_blocks_match?"),
         "DT-06 (receiver): SACK blocks for out-of-order data where the stack sends them."),
    Then("The DUT Should Resend Only What Was Lost",
         ("sack_resent_per_lost", "resends_received_data", "sack_holes_wait_for_rto"),
         "DT-06 (sender): segments resent per segment lost; lwIP ignores SACK (documented)."),
    Then("The DUT Should Delay ACKs No Longer Than Its Profile Says",
         ("delayed_ack_max_ms", "ack_ratio?"),
         "DT-07: the longest ACK delay, and the ACK ratio for full segments."),
    Then("Offered MSS Should Be Link MTU Minus 40", ("offered_mss_bytes",),
         "MS-01: the MSS option of the SYN-ACK against the profile (MTU - 40, or the "
         "stack's documented TCP_MSS)."),
    Then("The DUT Should Pass FIN_WAIT_1 And FIN_WAIT_2", ("active_close_path",),
         "CL-01: the states the DUT's connection list shows on the way."),
    Then("The DUT Should Receive After Its FIN And Send After The Peer's",
         ("half_close_receives", "close_wait_sends"), "CL-02."),
    Then("The DUT Should Pass LAST_ACK To CLOSED Without TIME_WAIT",
         ("passive_close_path",), "CL-03."),
    Then("The DUT Should ACK The FIN Again And Restart Its TIME_WAIT",
         ("time_wait_reack_fin", "time_wait_restart_on_fin"), "CL-05."),
    Then("The DUT Should Go Straight To TIME_WAIT", ("fin_ack_to_time_wait",), "CL-06."),
    Then("The DUT Should Pass CLOSING Then TIME_WAIT", ("simultaneous_close_path",),
         "CL-07."),
    Then("The Close Should Take As Many Segments As The Profile Says",
         ("close_segments",), "CL-08: three when the passive side merges FIN and ACK."),
    Then("The Bench Should Report The CLOSE_WAIT Leak",
         ("close_wait_persists", "close_wait_age_s?"), "CL-09."),
    Then("FIN_WAIT_2 Should End As The Profile Says", ("fin_wait_2_timeout_s",),
         "CL-10: the orphan timeout, where the stack has one."),
    Then("The New SYN Should Be Handled As The Profile Says",
         ("time_wait_syn_reuse_accepted",), "CL-11: RFC 6191 or the stack's own rule."),
    Then("TIME_WAIT Should Last 2MSL", ("time_wait_s",),
         "CL-04: the TIME_WAIT duration against 2MSL as the profile gives it (Linux "
         "60 s, lwIP 2 * TCP_MSL)."),
]


def python_name(words: str) -> str:
    return "kw_" + "".join(c if c.isalnum() else "_" for c in words.lower())


def _when(row: When) -> Any:
    fixed = {k: v if isinstance(v, str) else json.dumps(v) for k, v in row.options.items()}

    def run(self, **options: str) -> None:  # noqa: ANN001 (Robot binds self)
        self.measure(row.measurement, **{**fixed, **options})

    given = " ".join(f"``{k}={v}``" for k, v in fixed.items())
    run.__doc__ = (f"{row.doc}\n\nRuns measurement ``{row.measurement}``"
                   f"{' with ' + given if given else ''} (more options as for `Measure`).")
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
