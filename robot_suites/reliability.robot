*** Settings ***
Documentation       Reliable data transfer: byte sequence numbers and cumulative ACKs,
...                 bad checksums and duplicates, retransmission on timeout, duplicate ACKs,
...                 SACK and delayed ACKs (DT-01 to DT-07, ../shared/BEHAVIOURS.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
Sequence Numbers Count Bytes And ACKs Are Cumulative
    [Documentation]    Given a bulk transfer both ways, when the capture is replayed, then
    ...    every sequence number advances by the bytes sent and every ACK names the next
    ...    byte expected.
    [Tags]    DT-01    RFC9293
    Given The DUT Is Ready
    When The DUT Sends A Bulk Transfer
    Then Sequence Numbers Should Count Bytes And ACKs Be Cumulative

Segment With A Bad Checksum Is Dropped
    [Documentation]    Given an established connection, when a segment with a bad checksum
    ...    arrives, then it is neither ACKed nor delivered.
    [Tags]    DT-02    RFC9293
    Given The DUT Is Ready
    When The Peer Sends A Segment With A Bad Checksum
    Then The Segment Should Be Dropped Unacknowledged

Duplicate Segment Is ACKed And Delivered Once
    [Documentation]    Given an established connection, when the same segment arrives twice,
    ...    then the DUT ACKs the duplicate and delivers the data once.
    [Tags]    DT-03    RFC9293
    Given The DUT Is Ready
    When The Peer Sends The Same Segment Twice
    Then The Duplicate Should Be ACKed And Delivered Once

Unacknowledged Data Is Retransmitted With Exponential Backoff
    [Documentation]    Given the DUT sending, when the peer stops ACKing, then the DUT
    ...    retransmits on its RTO with exponential backoff and finally gives up as its
    ...    profile says.
    [Tags]    DT-04    RFC6298    RFC9293    slow
    Given The DUT Is Ready
    When The Peer Loses A Whole Flight And Stops Acknowledging
    Then The DUT Should Back Off Its RTO As Its Profile Says

Out-Of-Order Segment Triggers An Immediate Duplicate ACK
    [Documentation]    Given an established connection, when a segment arrives after a gap,
    ...    then the DUT sends a duplicate ACK at once.
    [Tags]    DT-05    RFC5681
    Given The DUT Is Ready
    When The Peer Sends A Segment Out Of Order
    Then The DUT Should Send A Duplicate ACK At Once

Receiver Reports SACK Blocks For Out-Of-Order Data
    [Documentation]    Given an established connection with SACK permitted, when a segment
    ...    arrives after a gap, then the DUT's ACK carries SACK blocks where its profile says
    ...    it sends them.
    [Tags]    DT-06    RFC2018
    Given The DUT Is Ready
    When The Peer Sends A Segment Out Of Order
    Then The DUT Should Report SACK Blocks As Its Profile Says

SACK Sender Resends Only The Holes
    [Documentation]    Given a SACK-capable peer, when two of the DUT's segments are lost,
    ...    then the DUT resends only what was lost (lwIP 2.1 ignores SACK: documented).
    [Tags]    DT-06    RFC2018    RFC6675
    Given The DUT Is Ready
    When The Peer Loses Two Of The DUT's Segments With SACK On
    Then The DUT Should Resend Only What Was Lost

ACKs Are Delayed At Most As The Profile Says
    [Documentation]    Given single segments from the peer, when the DUT acknowledges
    ...    them, then no ACK waits longer than the delayed-ACK timeout, and full segments are
    ...    ACKed at least every second one.
    [Tags]    DT-07    RFC1122    RFC5681
    Given The DUT Is Ready
    When The Peer Sends Single Segments
    Then The DUT Should Delay ACKs No Longer Than Its Profile Says
