*** Settings ***
Documentation       Robustness and reset: broken headers are dropped without harm, only an
...                 acceptable RST aborts, an application abort sends RST (DT-08, RS-01,
...                 RS-02, ../shared/BEHAVIOURS.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test
Test Tags           RFC9293


*** Test Cases ***
Broken Headers Are Dropped Without A Crash
    [Documentation]    Given an established connection, when segments arrive with a data
    ...    offset below 5 or beyond the segment, or malformed options, then the DUT drops
    ...    them and still answers its console and a new connection.
    [Tags]    DT-08    RFC1122
    Given The DUT Is Ready
    When The Peer Sends Segments With Broken Headers
    Then The DUT Should Drop Them And Keep Answering

Only An Acceptable RST Aborts The Connection
    [Documentation]    Given an established connection, when RSTs arrive outside and inside
    ...    the window, then the out-of-window one is ignored, an inexact in-window one gets
    ...    a challenge ACK where implemented, and the exact one aborts.
    [Tags]    RS-01    RFC5961
    Given The DUT Is Ready
    When The Peer Sends RSTs In And Out Of The Window
    Then Only An Acceptable RST Should Abort The Connection

Application Abort Sends RST
    [Documentation]    Given an established connection, when the DUT's application
    ...    aborts it, then the DUT sends a RST.
    [Tags]    RS-02
    Given The DUT Is Ready
    When The DUT's Application Aborts A Connection
    Then The DUT Should Send RST
