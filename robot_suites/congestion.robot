*** Settings ***
Documentation       Congestion response under injected loss: slow start, congestion
...                 avoidance, fast retransmit and recovery, the RTO, and goodput under random
...                 loss (CC-01 to CC-06, DT-04, ../shared/BEHAVIOURS.md). Every figure comes
...                 from the oracle's trace of the peer's capture; plots are in the log.
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test
Test Tags           RFC5681


*** Test Cases ***
Slow Start Begins With The Initial Window
    [Documentation]    Given the DUT sending a bulk transfer, when the peer ACKs every
    ...    segment, then the first flight is the profile's initial window and the flight
    ...    roughly doubles each RTT.
    [Tags]    CC-01    RFC6928
    Given The DUT Is Ready
    When The DUT Sends A Bulk Transfer To The Peer
    Then The First Flight Should Be The Initial Window And Double Each RTT

Congestion Avoidance Grows By One MSS Per RTT
    [Documentation]    Given the DUT above ssthresh after a loss, when the peer keeps
    ...    ACKing, then the flight grows by about one MSS per RTT.
    [Tags]    CC-02
    Given The DUT Is Ready
    When The Peer Loses One Segment Of The DUT's Flight
    Then Congestion Avoidance Should Grow By About One MSS Per RTT

Three Duplicate ACKs Trigger A Fast Retransmit
    [Documentation]    Given the DUT sending, when one segment is lost and duplicate ACKs
    ...    come back, then the DUT resends after the third, without waiting for its RTO.
    [Tags]    CC-03
    Given The DUT Is Ready
    When The Peer Loses One Segment Of The DUT's Flight
    Then The DUT Should Fast Retransmit After Three Duplicate ACKs

A Burst Of Lost Segments Is Repaired
    [Documentation]    Given the DUT sending, when the path drops several consecutive
    ...    segments, then the DUT resends every one of them and delivers all its data.
    [Tags]    CC-03    CC-05
    Given The DUT Is Ready
    When The Path Drops A Burst Of The DUT's Segments
    Then The DUT Should Repair Every Segment Of The Burst

Fast Recovery Reduces The Window By The Profile's Factor
    [Documentation]    Given a fast retransmit, when recovery ends, then ssthresh and cwnd
    ...    are reduced by the factor of the DUT's congestion control, and it continues in
    ...    congestion avoidance.
    [Tags]    CC-04    RFC6582    RFC9438
    Given The DUT Is Ready
    When The Peer Loses One Segment Of The DUT's Flight
    Then The Congestion Window Should Drop By The Profile's Factor

Retransmission Timeout Collapses The Window
    [Documentation]    Given the DUT sending, when a whole flight is lost, then after its
    ...    RTO the DUT sends one segment (the loss window) and slow-starts again.
    [Tags]    CC-05    RFC6298    slow
    Given The DUT Is Ready
    When The Peer Loses A Whole Flight And Stops Acknowledging
    Then The DUT Should Collapse Its Window And Slow-Start Again

Goodput Under Random Loss Stays Within The Mathis Band
    [Documentation]    Given the impairment bridge dropping the DUT's data at random,
    ...    when the DUT sends repeatedly at each loss rate, then its goodput is reported
    ...    against the Mathis bound MSS/RTT * C/sqrt(p).
    [Tags]    CC-06    impairment    slow
    Given The DUT Is Ready
    When The Path Drops The DUT's Data At Random
    Then Goodput Should Stay Within The Mathis Band
