*** Settings ***
Documentation       TIME_WAIT: how long the active closer stays in it, measured on the wire
...                 without trusting the DUT (CL-04, CL-05, CL-11, ../shared/BEHAVIOURS.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
Active Closer Stays In TIME_WAIT For 2MSL
    [Documentation]    Given the DUT closes a connection first, when the peer resends its
    ...    FIN at chosen times, then the DUT ACKs it again until 2MSL and answers RST after.
    [Tags]    CL-04    RFC1122    slow
    Given The DUT Is Ready
    When The DUT Closes First And The Peer Probes Its TIME_WAIT
    Then TIME_WAIT Should Last 2MSL

Retransmitted FIN Is ACKed Again And Restarts TIME_WAIT
    [Documentation]    Given the DUT in TIME_WAIT whose last ACK was lost, when the peer
    ...    resends its FIN, then the DUT ACKs it again and restarts the 2MSL timer.
    [Tags]    CL-05    RFC9293    slow
    Given The DUT Is Ready
    When The Peer Resends Its FIN Into The DUT's TIME_WAIT
    Then The DUT Should ACK The FIN Again And Restart Its TIME_WAIT

New SYN For A 4-Tuple In TIME_WAIT Is Handled As The Profile Says
    [Documentation]    Given a connection in TIME_WAIT, when a SYN with a higher ISN
    ...    arrives for the same 4-tuple, then the DUT accepts or refuses it as its profile
    ...    says (RFC 6191).
    [Tags]    CL-11    RFC9293    RFC6191
    Given The DUT Is Ready
    When The Peer Sends A New SYN For A Connection In TIME_WAIT
    Then The New SYN Should Be Handled As The Profile Says
