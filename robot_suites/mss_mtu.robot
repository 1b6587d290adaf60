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
    [Tags]    MS-01    HS-04    RFC879
    Given The DUT Is Ready
    When The Peer Opens A Connection To The DUT
    Then Offered MSS Should Be Link MTU Minus 40

DUT Offers A Smaller MSS On A 1280-Byte Link
    [Documentation]    Given the DUT's link MTU set to 1280, when the peer opens a
    ...    connection, then the offered MSS follows the link (1240 where the stack uses
    ...    MTU - 40; lwIP keeps min(TCP_MSS, MTU - 40)).
    [Tags]    MS-01    RFC879
    Given The DUT Is Ready
    When The Peer Opens A Connection Over A 1280-Byte Link
    Then Offered MSS Should Be Link MTU Minus 40

DUT Offers A Smaller MSS On A 576-Byte Link
    [Documentation]    Given the DUT's link MTU set to 576, when the peer opens a
    ...    connection, then the offered MSS is 536.
    [Tags]    MS-01    RFC879
    Given The DUT Is Ready
    When The Peer Opens A Connection Over A 576-Byte Link
    Then Offered MSS Should Be Link MTU Minus 40

DUT Never Sends More Than The Peer's MSS
    [Documentation]    Given peers offering MSS 536, 1000, 1460 and 9000, when the DUT
    ...    sends, then no segment is larger than the peer's MSS or the link allows.
    [Tags]    MS-02    RFC9293    RFC879
    Given The DUT Is Ready
    When The Peer Offers Each MSS And The DUT Sends
    Then Segments Should Fit The Peer's MSS And The Link

DUT Assumes 536 Without An MSS Option
    [Documentation]    Given a peer whose SYN carries no MSS option, when the DUT sends,
    ...    then its segments carry at most 536 bytes.
    [Tags]    MS-03    RFC9293    RFC1122
    Given The DUT Is Ready
    When The Peer Offers Each MSS And The DUT Sends
    Then Without An MSS Option The DUT Should Assume 536

DUT Segments Fit A Smaller Link MTU
    [Documentation]    Given the DUT's link at MTU 1280 and a peer offering a larger MSS,
    ...    when the DUT sends, then its segments fit the link.
    [Tags]    MS-04    RFC9293
    Given The DUT Is Ready
    When The DUT Sends Over A 1280-Byte Link To A Peer Offering A Larger MSS
    Then Segments Should Fit The Peer's MSS And The Link

DUT Honours ICMP Fragmentation Needed
    [Documentation]    Given the DUT sending bulk data, when the path answers with ICMP
    ...    fragmentation needed (MTU 1280), then a DUT that sets DF resends in segments that
    ...    fit (lwIP 2.1.3 has no PMTUD: a documented deviation).
    [Tags]    MS-04    RFC1191
    Given The DUT Is Ready
    When The Peer Answers The DUT's Data With ICMP Fragmentation Needed
    Then The DUT Should Fit Its Segments To The Path MTU
