*** Settings ***
Documentation       MSS and MTU: what the DUT offers, what it sends for each peer MSS, and
...                 how it fits a smaller path MTU (MS-01 to MS-04, ../shared/BEHAVIOURS.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
DUT Offers MSS Of Link MTU Minus 40
    [Documentation]    Given the DUT on a 1500-byte link, when the peer opens a
    ...    connection, then the MSS option of the SYN-ACK is what the profile says
    ...    (link MTU - 40, or the stack's documented TCP_MSS).
    [Tags]    MS-01    HS-04    RFC9293    RFC879
    Given The DUT Is Ready
    When The Peer Opens A Connection To The DUT
    Then Offered MSS Should Be Link MTU Minus 40
