*** Settings ***
Documentation       Connection release: active, passive, half, simultaneous and merged close,
...                 the CLOSE_WAIT leak and the FIN_WAIT_2 orphan timeout (CL-01 to CL-03,
...                 CL-06 to CL-10, ../shared/BEHAVIOURS.md). States come from the DUT's
...                 connection list, segments from the peer's capture.
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test
Test Tags           RFC9293


*** Test Cases ***
Active Closer Passes FIN_WAIT_1 And FIN_WAIT_2
    [Documentation]    Given an established connection, when the DUT closes first and the
    ...    peer ACKs its FIN (ack u+1), then the DUT passes FIN_WAIT_1 then FIN_WAIT_2.
    [Tags]    CL-01
    Given The DUT Is Ready
    When The DUT Closes First
    Then The DUT Should Pass FIN_WAIT_1 And FIN_WAIT_2

Half-Closed Connection Still Carries Data
    [Documentation]    Given the DUT has sent its FIN, when the peer still sends data, then
    ...    the DUT receives and ACKs it; after the peer's FIN the DUT may still send.
    [Tags]    CL-02
    Given The DUT Is Ready
    When The Peer Sends Data After The DUT's FIN And Then Closes
    Then The DUT Should Receive After Its FIN And Send After The Peer's

Passive Closer Ends Without TIME_WAIT
    [Documentation]    Given the peer closes first, when the DUT's application closes
    ...    too, then the DUT passes CLOSE_WAIT and LAST_ACK to CLOSED, with no TIME_WAIT.
    [Tags]    CL-03
    Given The DUT Is Ready
    When The Peer Closes First And Then The DUT
    Then The DUT Should Pass LAST_ACK To CLOSED Without TIME_WAIT

FIN+ACK In FIN_WAIT_1 Leads Straight To TIME_WAIT
    [Documentation]    Given the DUT in FIN_WAIT_1, when the peer answers with FIN and ACK
    ...    in one segment, then the DUT goes straight to TIME_WAIT.
    [Tags]    CL-06
    Given The DUT Is Ready
    When The Peer Answers The DUT's FIN With FIN+ACK
    Then The DUT Should Go Straight To TIME_WAIT

Simultaneous Close Passes CLOSING
    [Documentation]    Given an established connection, when both FINs cross, then the DUT
    ...    passes CLOSING, then TIME_WAIT.
    [Tags]    CL-07
    Given The DUT Is Ready
    When Both FINs Cross
    Then The DUT Should Pass CLOSING Then TIME_WAIT

Passive Side May Merge Its FIN With The ACK
    [Documentation]    Given a DUT with nothing left to send, when the peer closes, then
    ...    the close takes as many segments as the profile says (three when merged).
    [Tags]    CL-08
    Given The DUT Is Ready
    When The Peer Closes A Connection The DUT Has Nothing More To Send On
    Then The Close Should Take As Many Segments As The Profile Says

Idle Application Leaves The Connection In CLOSE_WAIT
    [Documentation]    Given the peer closes, when the DUT's application never closes,
    ...    then the connection stays in CLOSE_WAIT and the bench reports the leak.
    [Tags]    CL-09
    Given The DUT Is Ready
    When The Peer Closes And The DUT's Application Stays Idle
    Then The Bench Should Report The CLOSE_WAIT Leak

FIN_WAIT_2 Does Not Live Forever
    [Documentation]    Given the DUT closed and its FIN is ACKed, when the peer never sends
    ...    its FIN, then FIN_WAIT_2 ends after the orphan timeout the profile gives.
    [Tags]    CL-10    slow
    Given The DUT Is Ready
    When The DUT Closes And The Peer Never Sends Its FIN
    Then FIN_WAIT_2 Should End As The Profile Says
