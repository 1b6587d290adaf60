*** Settings ***
Documentation       Connection establishment: the three-way handshake, its retransmissions,
...                 its options, ISNs and the answer to a SYN for a closed port (HS-01 to
...                 HS-14, ../shared/BEHAVIOURS.md). Expected values come from the DUT's
...                 profile (bench/profiles), never from this file.
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
Three-Way Handshake Carries The Right Flags And Numbers
    [Documentation]    Given the DUT as client and as server, when the handshakes run,
    ...    then SYN, SYN-ACK and ACK carry the right flags, ISNs and acks, no payload in
    ...    the first two, and data then flows both ways (full duplex).
    [Tags]    HS-01    HS-02    HS-03    RFC9293
    Given The DUT Is Ready
    When The DUT And The Peer Open Connections To Each Other
    Then Every Handshake Segment Should Carry The Right Flags And Numbers

SYN And SYN-ACK Offer The Profile's Options
    [Documentation]    Given the DUT as client and as server, when it sends SYN and
    ...    SYN-ACK, then it offers MSS, window scale, SACK-permitted and timestamps as its
    ...    profile says.
    [Tags]    HS-04    RFC9293    RFC7323    RFC2018
    Given The DUT Is Ready
    When The DUT And The Peer Open Connections To Each Other
    Then The DUT Should Offer The Options Its Profile Says

Third Handshake Segment May Carry Data
    [Documentation]    Given a DUT listener, when the ACK completing the handshake carries
    ...    data, then the DUT accepts and delivers it.
    [Tags]    HS-05    RFC9293
    Given The DUT Is Ready
    When The Peer Sends Data On The Third Handshake Segment
    Then Data On The Third Segment Should Be Delivered

Stale SYN-ACK Is Answered With RST
    [Documentation]    Given no connection of the DUT's, when a SYN-ACK arrives for one,
    ...    then the DUT answers RST; and a listener whose half-open entry is reset frees it.
    [Tags]    HS-09    RFC9293
    Given The DUT Is Ready
    When The Peer Sends A SYN-ACK The DUT Never Asked For
    Then The DUT Should Reset The Stale SYN-ACK And Free The Half-Open Entry

Unacceptable Segments Are Answered And Do Not Corrupt The Connection
    [Documentation]    Given an established connection and a half-open one, when segments
    ...    with unacceptable numbers arrive, then the DUT answers ACK (ESTABLISHED) or RST
    ...    (SYN-RCVD, bad ACK), and the connection still carries data.
    [Tags]    HS-10    RFC9293    RFC5961
    Given The DUT Is Ready
    When The Peer Sends Segments With Unacceptable Numbers
    Then The DUT Should Answer Unacceptable Segments As Its Profile Says

SYN Queue Is Bounded Under A SYN Flood
    [Documentation]    Given a DUT listener with a small backlog, when SYNs flood in from
    ...    many spoofed lab addresses, then the half-open queue stays bounded, SYN cookies
    ...    are detected if used, and the DUT serves or recovers as its profile says.
    [Tags]    HS-12    RFC4987    slow
    Given The DUT Is Ready
    When The Peer Floods The DUT With SYNs From Spoofed Lab Addresses
    Then The SYN Queue Should Be Bounded And The DUT Should Recover

TCP Fast Open Support Is Detected
    [Documentation]    Given a DUT listener, when the peer asks for a TFO cookie, then the
    ...    cookie is given or not as the profile says.
    [Tags]    HS-13    RFC7413
    Given The DUT Is Ready
    When The Peer Asks For A Fast Open Cookie
    Then Fast Open Support Should Be As The Profile Says

Simultaneous Open Reaches ESTABLISHED
    [Documentation]    Given the DUT connecting from a known port, when the peer's SYN
    ...    crosses the DUT's SYN, then both reach ESTABLISHED (lwIP ignores the crossing
    ...    SYN: a documented deviation).
    [Tags]    HS-14    RFC9293
    Given The DUT Is Ready
    When The DUT And The Peer Send SYNs That Cross
    Then Simultaneous Open Should Reach ESTABLISHED

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
