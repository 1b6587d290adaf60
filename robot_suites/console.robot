*** Settings ***
Documentation       The DUT's console speaks the bench agent protocol (docs/console-protocol.md).
Resource            resources/dut.resource
Suite Setup         Take The DUT Under Test
Suite Teardown      Release The DUT Under Test


*** Test Cases ***
DUT Answers Hello With Its Build Id
    [Documentation]    Given the DUT under test, when the bench says hello,
    ...    then it answers with protocol version 1 and its firmware build id.
    [Tags]    console    smoke
    DUT Should Answer Hello With Protocol Version 1
