"""The SCPI power driver against a simulated supply (pyvisa-sim), over a real VISA session.

tests/data/psu-sim.yaml is a 2-channel, 0-30 V / 0-3 A supply that, like pyvisa-sim's
own devices, answers "ERROR" to a rejected command: the stale-reply pitfall is real here.
An independent VISA session (`observer`) checks what the instrument holds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvisa

from bench.inventory.models import Power
from bench.power import (
    CurrentSampler,
    SetpointRejected,
    Supply,
    SupplyError,
    UnknownDriverError,
    currents_during,
    open_supply,
    power_cycle,
)
from bench.power import base as power_base
from bench.power.scpi import ScpiSupply, scpi_number

SIM_YAML = Path(__file__).resolve().parents[1] / "data" / "psu-sim.yaml"
RESOURCE = "TCPIP::192.0.2.50::INSTR"


@pytest.fixture
def sim(tmp_path: Path) -> str:
    """A fresh simulated supply per test: pyvisa caches one sim library per file path."""
    copy = tmp_path / "psu-sim.yaml"
    shutil.copy(SIM_YAML, copy)
    return f"{copy}@sim"


@pytest.fixture
def observer(sim: str) -> Iterator[pyvisa.resources.MessageBasedResource]:
    rm = pyvisa.ResourceManager(sim)
    inst = rm.open_resource(RESOURCE, read_termination="\n", write_termination="\n", timeout=500)
    yield inst
    inst.close()
    rm.close()


def _open(sim: str, channel: int = 1, **fields: float) -> Supply:
    return open_supply(Power(resource=RESOURCE, channel=channel, **fields), resource_manager=sim)


@pytest.fixture
def ch1(sim: str) -> Iterator[Supply]:
    supply = _open(sim, 1)
    yield supply
    supply.close()


@pytest.fixture
def ch2(sim: str) -> Iterator[Supply]:
    supply = _open(sim, 2)
    yield supply
    supply.close()


def _held(observer: pyvisa.resources.MessageBasedResource, channel: int, query: str) -> str:
    observer.write(f"INST:NSEL {channel}")
    return observer.query(query)


def test_open_identifies_and_applies_the_inventory_setpoints(sim: str, observer) -> None:
    supply = _open(sim, 2, voltage_v=3.3, current_limit_a=0.5)
    assert supply.identity == "HILBENCH,PSU-SIM-2CH,SIM0001,1.0"
    assert _held(observer, 2, "VOLT?") == "3.300"
    assert _held(observer, 2, "CURR?") == "0.500"
    assert _held(observer, 1, "VOLT?") == "0.000"  # the other channel is untouched
    supply.close()


def test_set_voltage_float_and_integer(ch1: Supply, observer) -> None:
    ch1.set_voltage(12.0)
    assert _held(observer, 1, "VOLT?") == "12.000"
    ch1.set_voltage(5)  # a bare "VOLT 5" would not parse: the driver sends 5.000
    assert _held(observer, 1, "VOLT?") == "5.000"
    ch1.set_current_limit(2)
    assert _held(observer, 1, "CURR?") == "2.000"
    assert scpi_number(5) == "5.000"


def test_out_of_range_voltage_is_rejected_and_leaves_no_stale_reply(ch1: Supply, observer):
    ch1.set_voltage(5.0)
    with pytest.raises(SetpointRejected) as caught:
        ch1.set_voltage(31.0)
    message = str(caught.value)
    assert "\n" not in message
    assert RESOURCE in message and "ch1" in message
    assert "voltage 31.000 V rejected" in message and "Data out of range" in message
    # The supply kept 5 V and the next queries read real data, not "ERROR".
    assert ch1.measure_voltage_v() == pytest.approx(4.998)
    assert ch1.is_on() is False
    assert _held(observer, 1, "VOLT?") == "5.000"
    ch1.set_voltage(6.0)
    assert _held(observer, 1, "VOLT?") == "6.000"


def test_out_of_range_current_limit_and_non_numbers_are_rejected(ch1: Supply) -> None:
    with pytest.raises(SetpointRejected, match="current limit 3.500 A rejected"):
        ch1.set_current_limit(3.5)
    with pytest.raises(SetpointRejected, match="not a finite number"):
        ch1.set_voltage(float("nan"))
    assert ch1.measure_current_a() == pytest.approx(0.118)


def test_output_on_off_per_channel(ch1: Supply, ch2: Supply) -> None:
    assert (ch1.is_on(), ch2.is_on()) == (False, False)
    ch1.on()
    assert (ch1.is_on(), ch2.is_on()) == (True, False)
    ch2.on()
    ch1.off()
    assert (ch1.is_on(), ch2.is_on()) == (False, True)
    ch2.off()
    assert (ch1.is_on(), ch2.is_on()) == (False, False)


def test_cycle_ends_on_from_either_state(ch1: Supply) -> None:
    ch1.cycle(off_s=0.05)
    assert ch1.is_on()
    started = time.monotonic()
    ch1.cycle(off_s=0.05)
    assert time.monotonic() - started >= 0.05
    assert ch1.is_on()


def test_power_cycle_records_times_and_currents(ch1: Supply) -> None:
    ch1.on()
    record = power_cycle(ch1, off_s=0.05, settle_s=0.0)
    assert record.resource == RESOURCE and record.channel == 1
    assert record.is_on_after
    assert record.duration_s >= 0.05
    assert record.current_before_a == pytest.approx(0.118)
    assert record.current_after_a == pytest.approx(0.118)


def test_current_sampler_collects_at_its_interval(ch1: Supply) -> None:
    sampler = CurrentSampler(ch1, interval_ms=20).start()
    time.sleep(0.2)
    samples = sampler.stop()
    assert len(samples) >= 3
    assert sampler.error is None
    times = [t for t, _ in samples]
    assert times == sorted(times)
    assert all(current == pytest.approx(0.118) for _, current in samples)


def test_current_sampler_is_bounded_and_shares_the_instrument(ch1: Supply, ch2: Supply) -> None:
    with CurrentSampler(ch1, interval_ms=1, max_samples=3) as sampler:
        for _ in range(5):  # ch2's transactions interleave with the sampler's on ch1
            ch2.on()
            assert ch2.is_on()
            ch2.off()
        time.sleep(0.05)
    assert len(sampler.samples) == 3
    assert sampler.dropped > 0
    assert sampler.error is None


def test_a_channel_the_supply_lacks_fails_at_open(sim: str) -> None:
    with pytest.raises(SupplyError, match=r"ch3: channel selection rejected"):
        _open(sim, 3)


def test_stale_replies_from_an_earlier_session_do_not_confuse_open(sim: str, observer):
    observer.write("VOLT 99.000")  # rejected: "ERROR" waits in the read buffer
    supply = _open(sim, 1)
    assert supply.identity is not None and supply.identity.startswith("HILBENCH")
    supply.close()


@pytest.mark.filterwarnings("ignore:read string doesn't end with termination characters")
def test_an_unknown_resource_is_a_supply_error_naming_it(sim: str) -> None:
    # Real VISA refuses to open it; pyvisa-sim opens it and answers nothing. Either way:
    with pytest.raises(SupplyError, match=r"^TCPIP::192.0.2.99::INSTR ch1: (cannot open|empty)"):
        open_supply(Power(resource="TCPIP::192.0.2.99::INSTR"), resource_manager=sim)


def test_a_reply_that_never_comes_times_out_with_the_command_named(sim: str) -> None:
    with ScpiSupply(Power(resource=RESOURCE), sim, timeout_ms=100) as supply:
        with pytest.raises(SupplyError) as caught:
            supply._query_raw("*CLS")  # a command, not a query: nothing will answer
    assert str(caught.value) == f"{RESOURCE} ch1: no answer to '*CLS' within 100 ms"


def test_a_closed_supply_says_so(ch1: Supply) -> None:
    ch1.close()
    with pytest.raises(SupplyError, match="not open"):
        ch1.is_on()


def test_unknown_driver_is_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownDriverError) as caught:
        open_supply(Power(resource=RESOURCE, driver="korad-serial"))
    assert str(caught.value) == (
        "unknown power driver 'korad-serial' (known drivers: qemu-qmp, scpi)"
    )


def test_a_run_samples_the_current_of_every_supply_that_measures_it(sim: str) -> None:
    powers = {"board-a": Power(resource=RESOURCE, channel=1, visa_library=sim),
              "board-b": Power(resource="TCPIP::192.0.2.51::INSTR", visa_library=sim)}
    with currents_during(powers, interval_ms=20) as traces:
        time.sleep(0.3)
    # board-b's resource is not in the simulated bench: no trace, and the run goes on
    assert [t["dut"] for t in traces] == ["board-a"]
    samples = traces[0]["samples"]
    assert len(samples) >= 5
    assert samples[0][0] == 0.0 and samples[-1][0] > 0.1
    assert {amps for _, amps in samples} == {0.118}  # the simulated supply's reading


def test_a_supply_that_cannot_measure_gives_no_trace(
        sim: str, monkeypatch: pytest.MonkeyPatch) -> None:
    class Blind(ScpiSupply):
        def measure_current_a(self) -> float | None:
            return None

    # registered for this test only: the driver registry is global
    monkeypatch.setitem(power_base._DRIVERS, "blind-test", Blind)
    with currents_during({"qemu": Power(resource=RESOURCE, driver="blind-test",
                                        visa_library=sim)}) as traces:
        time.sleep(0.05)
    assert traces == []
