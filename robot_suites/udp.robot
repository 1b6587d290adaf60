*** Settings ***
Documentation       UDP, the small part of seed 003's chapter 1: boundaries kept, a bad
...                 checksum dropped, a closed port answered (UD-01 to UD-03,
...                 ../shared/BEHAVIOURS.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test
Test Tags           RFC768


*** Test Cases ***
Datagram Boundaries Are Kept
    [Documentation]    Given a DUT echo port, when datagrams of many sizes arrive, then
    ...    each comes back as one whole datagram.
    [Tags]    UD-01
    Given The DUT Is Ready
    When The Peer Sends Datagrams To A DUT Echo Port
    Then Each Datagram Should Come Back Whole

Datagram With A Bad Checksum Is Dropped
    [Documentation]    Given a DUT counting port, when a datagram with a bad checksum
    ...    arrives, then it is not delivered.
    [Tags]    UD-02
    Given The DUT Is Ready
    When The Peer Sends A Datagram With A Bad Checksum
    Then The Datagram Should Not Be Delivered

Closed UDP Port Answers ICMP Port Unreachable
    [Documentation]    Given no socket on a port, when a datagram arrives there, then the
    ...    DUT answers ICMP port unreachable where its profile says it implements it.
    [Tags]    UD-03    RFC1122
    Given The DUT Is Ready
    When The Peer Sends A Datagram To A Closed UDP Port
    Then The DUT Should Answer ICMP Port Unreachable
