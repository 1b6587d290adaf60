"""The power interface every supply driver implements, and the driver registry.

A driver is one module whose class registers itself with `@register_driver("name")`;
`open_supply` picks it by the inventory's `power.driver`, so adding a supply touches
nothing else. The interface stays tiny (on / off / cycle, plus the few readings a
report needs) so that a labgrid power driver or a QEMU monitor can stand behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

from bench.inventory.models import Power


class PowerError(Exception):
    """Anything that went wrong controlling power; the message is one line."""


class SupplyError(PowerError):
    """The supply did not answer, answered nonsense, or reported an error."""


class SetpointRejected(SupplyError):
    """The supply refused a setpoint (out of its range, or clamped it silently)."""


class UnknownDriverError(PowerError, LookupError):
    """The inventory names a power driver nobody registered."""


@runtime_checkable
class Supply(Protocol):
    """One switchable output powering one DUT.

    Life cycle is explicit (labgrid's activate/deactivate): `open()` before use,
    `close()` after; both are idempotent.
    """

    power: Power

    def open(self) -> None: ...

    def close(self) -> None: ...

    def on(self) -> None: ...

    def off(self) -> None: ...

    def cycle(self, off_s: float = 1.0) -> None:
        """Power off, wait `off_s`, power on: ends ON whatever the state before."""
        ...

    def is_on(self) -> bool: ...

    def measure_current_a(self) -> float | None:
        """The output current, or None when this supply cannot measure it."""
        ...

    def measure_voltage_v(self) -> float | None:
        """The output voltage, or None when this supply cannot measure it."""
        ...

    def set_voltage(self, volts: float) -> None: ...

    def set_current_limit(self, amps: float) -> None: ...


D = TypeVar("D", bound=Callable[..., Supply])
S = TypeVar("S", bound="ContextManaged")

# name -> class; a driver class is called as cls(power, resource_manager).
_DRIVERS: dict[str, Callable[..., Supply]] = {}


def register_driver(name: str) -> Callable[[D], D]:
    """Class decorator: make the class the driver for `power.driver == name`."""

    def decorate(cls: D) -> D:
        if name in _DRIVERS and _DRIVERS[name] is not cls:
            raise ValueError(f"power driver {name!r} is registered twice")
        _DRIVERS[name] = cls
        return cls

    return decorate


def known_drivers() -> list[str]:
    """The registered driver names, sorted (for error messages and `hilbench` help)."""
    return sorted(_DRIVERS)


def driver_for(name: str) -> Callable[..., Supply]:
    """The driver registered as `name`, or an error that lists the known ones."""
    try:
        return _DRIVERS[name]
    except KeyError:
        known = ", ".join(known_drivers()) or "none"
        raise UnknownDriverError(
            f"unknown power driver {name!r} (known drivers: {known})"
        ) from None


def open_supply(power: Power, resource_manager: str | None = None) -> Supply:
    """Build the driver `power.driver` names and open it.

    `resource_manager` (default: the inventory's `power.visa_library`) is passed to
    pyvisa-based drivers (e.g. "psu-sim.yaml@sim"); drivers that do not use VISA ignore it.
    """
    supply = driver_for(power.driver)(power, resource_manager or power.visa_library)
    supply.open()
    return supply


class ContextManaged:
    """Mixin: `with driver:` opens and closes it (drivers define open/close)."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
