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
    [Tags]    CL-04    RFC9293    RFC1122    slow
    Given The DUT Is Ready
    When The DUT Closes First And The Peer Probes Its TIME_WAIT
    Then TIME_WAIT Should Last 2MSL
