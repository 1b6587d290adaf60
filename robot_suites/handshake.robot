*** Settings ***
Documentation       Connection establishment: the three-way handshake, its retransmissions,
...                 its options, ISNs and the answer to a SYN for a closed port (HS-01 to
...                 HS-14, ../shared/BEHAVIOURS.md). Expected values come from the DUT's
...                 profile (bench/profiles), never from this file.
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
Listener Retransmits SYN-ACK With Backoff Then Gives Up
    [Documentation]    Given a DUT listener, when the peer sends a SYN and never ACKs the
    ...    SYN-ACK, then the DUT retransmits the SYN-ACK as often and as far apart as its
    ...    profile says, and drops the half-open connection the way the profile says.
    [Tags]    HS-07    RFC9293    slow
    Given The DUT Is Ready
    When The Peer Never Completes A Handshake With The DUT
    Then The DUT Should Retransmit SYN-ACK As Its Profile Says

Opener Retransmits SYN Then Reports Failure
    [Documentation]    Given the DUT as client, when the peer ignores every SYN, then the
    ...    DUT retransmits its SYN on the profile's schedule and reports the failure.
    [Tags]    HS-08    RFC9293    RFC6298    slow
    Given The DUT Is Ready
    When The Peer Ignores Every SYN The DUT Sends
    Then The DUT Should Retransmit SYN As Its Profile Says

ISNs Are Not Predictable
    [Documentation]    Given a DUT listener, when the peer opens eight connections, then
    ...    the DUT's initial sequence numbers are as (un)predictable as its profile says
    ...    (lwIP's ISN counter is a documented deviation, reported with the ISNs seen).
    [Tags]    HS-06    RFC9293    RFC6528
    Given The DUT Is Ready
    When The Peer Opens Eight Connections To The DUT
    Then ISNs Should Be As Predictable As The Profile Says

SYN To A Closed Port Is Answered With RST
    [Documentation]    Given no listener on port 47, when the peer sends a SYN there,
    ...    then the DUT answers RST+ACK.
    [Tags]    HS-11    RFC9293
    Given The DUT Is Ready
    When The Peer Sends A SYN To A Port Nobody Listens On
    Then The DUT Should Answer RST+ACK
