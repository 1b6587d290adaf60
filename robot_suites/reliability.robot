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
