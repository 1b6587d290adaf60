"""Power control: switch, cycle and measure the supply that powers a DUT.

Importing the package registers the drivers shipped with it (`scpi`, `qemu-qmp`);
a new driver is one module here, imported below.
"""

from bench.power import qemu_reset, scpi  # noqa: F401  (registration side effect)
from bench.power.base import (
    PowerError,
    SetpointRejected,
    Supply,
    SupplyError,
    UnknownDriverError,
    known_drivers,
    open_supply,
    register_driver,
)
from bench.power.recovery import (
    CurrentSample,
    CurrentSampler,
    PowerCycle,
    currents_during,
    power_cycle,
)

__all__ = [
    "CurrentSample",
    "CurrentSampler",
    "PowerCycle",
    "PowerError",
    "SetpointRejected",
    "Supply",
    "SupplyError",
    "UnknownDriverError",
    "currents_during",
    "known_drivers",
    "open_supply",
    "power_cycle",
    "register_driver",
]
