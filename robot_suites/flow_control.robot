*** Settings ***
Documentation       Flow control: the sender respects the receiver's window, probes a zero
...                 window, scales windows only when both offered it, and advertises its own
...                 window truthfully (FC-01 to FC-04, ../shared/BEHAVIOURS.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
Sender Never Exceeds The Advertised Window
    [Documentation]    Given a peer advertising small windows, when the DUT sends, then its
    ...    flight never exceeds the window (swnd = min(cwnd, rwnd)).
    [Tags]    FC-01    RFC9293
    Given The DUT Is Ready
    When The DUT Sends Into Small Windows The Peer Advertises
    Then The DUT's Flight Should Never Exceed The Peer's Window

Zero Window Is Probed And A Lost Update Does Not Deadlock
    [Documentation]    Given the DUT sending, when the peer's window closes and the update
    ...    that reopens it is lost, then the DUT probes on its persist timer with backoff
    ...    as its profile says, and the transfer recovers.
    [Tags]    FC-02    RFC9293    RFC1122    slow
    Given The DUT Is Ready
    When The Peer Closes Its Window And Its Window Update Is Lost
    Then The DUT Should Probe The Zero Window As Its Profile Says And Recover

Window Scaling Is Used Only When Both Sides Offered It
    [Documentation]    Given peers with and without the window scale option, when the DUT
    ...    advertises its window, then it is scaled only on the connection where both
    ...    offered scaling.
    [Tags]    FC-03    RFC7323
    Given The DUT Is Ready
    When The Peer Connects With And Without Window Scaling
    Then Window Scaling Should Be Used Only When Both Sides Offered It

Receiver Advertises Its Window Truthfully And Reopens It
    [Documentation]    Given the DUT receiving, when its application stops reading and
    ...    then reads again, then its window closes, reopens with a window update, and never
    ...    shrinks.
    [Tags]    FC-04    RFC9293
    Given The DUT Is Ready
    When The DUT's Application Stops Reading And Then Reads Again
    Then The DUT's Window Should Close And Reopen Truthfully
