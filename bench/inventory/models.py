"""The inventory as pydantic models: what the YAML says maps one to one onto these fields.

Structure and types are checked here; checks that need the whole document (addresses
inside the lab ranges, unique names, known adapters) live in `checks.py` so that every
problem is reported with its YAML path in one pass.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MAC_PATTERN = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
CONSOLE_SCHEMES = ("rfc2217://", "socket://", "loop://", "spy://")


class Strict(BaseModel):
    """Unknown keys are errors: a typo in the YAML must not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _mac(value: str) -> str:
    value = value.lower()
    if not MAC_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a MAC address like 02:00:00:00:02:10")
    if int(value[:2], 16) & 1:
        raise ValueError(f"{value} is a multicast MAC address")
    return value


MacAddress = Annotated[str, AfterValidator(_mac)]


class DutKind(StrEnum):
    SIM_QEMU = "sim-qemu"
    SIM_LINUX = "sim-linux"
    BOARD = "board"
    HOST = "host"

    @property
    def simulated(self) -> bool:
        return self in (DutKind.SIM_QEMU, DutKind.SIM_LINUX)


class Console(Strict):
    """A serial console as a pyserial URL; simulated DUTs get theirs from the lab."""

    url: str | None = None
    baud: int = Field(115200, gt=0)

    @field_validator("url")
    @classmethod
    def _known_url(cls, value: str | None) -> str | None:
        if value is None or value.startswith("/dev/") or value.startswith(CONSOLE_SCHEMES):
            return value
        raise ValueError(
            f"{value!r} is not a serial port (/dev/...) or a pyserial URL "
            f"({', '.join(CONSOLE_SCHEMES)})"
        )


class Link(Strict):
    """The DUT's Ethernet side."""

    interface: str = Field("eth0", max_length=15)
    address: ipaddress.IPv4Interface
    mac: MacAddress
    mtu: int = Field(1500, ge=576, le=9216)
    gateway: ipaddress.IPv4Address | None = None


class Power(Strict):
    """A programmable supply channel that powers the DUT (VISA resource string)."""

    resource: str
    channel: int = Field(1, ge=1)
    driver: str = "scpi"
    voltage_v: float = Field(5.0, gt=0)
    current_limit_a: float = Field(1.0, gt=0)
    # pyvisa's backend, e.g. "tests/data/psu-sim.yaml@sim" for a pyvisa-sim supply
    visa_library: str | None = None


class Firmware(Strict):
    """Which build an emulated board boots (sim-qemu only)."""

    variant: str = "ci-fast"
    image: str | None = None


class Dut(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    kind: DutKind
    adapter: str = "agent-v1"
    console: Console = Console()
    link: Link
    profile: str
    power: Power | None = None
    firmware: Firmware | None = None
    tags: list[str] = []


class Peer(Strict):
    """The reference TCP model's identity: an address and MAC no kernel on the bench owns."""

    interface: str = Field("peer0", max_length=15)
    address: ipaddress.IPv4Address
    mac: MacAddress


class BenchSide(Strict):
    """The bench PC's side of the lab: its kernel interface and the reference peer."""

    interface: str = Field("eth0", max_length=15)
    address: ipaddress.IPv4Interface
    mac: MacAddress
    peer: Peer


class ImpairmentKind(StrEnum):
    BRIDGE = "bridge"
    NETEM = "netem"
    NONE = "none"


class Impairment(Strict):
    kind: ImpairmentKind = ImpairmentKind.BRIDGE
    interfaces: tuple[str, str] = ("imp-b", "imp-d")
    seed: int = 1


class LabMode(StrEnum):
    EMULATED = "emulated"
    REAL = "real"


class Lab(Strict):
    mode: LabMode = LabMode.EMULATED
    prefix: str = Field("hb-", pattern=r"^[a-z][a-z0-9]{0,5}-$")
    allowed_ranges: list[ipaddress.IPv4Network] = [
        ipaddress.IPv4Network("192.0.2.0/24"),
        ipaddress.IPv4Network("198.51.100.0/24"),
    ]
    state_dir: str = "/run/hilbench"


class Inventory(Strict):
    lab: Lab = Lab()
    bench: BenchSide
    impairment: Impairment = Impairment()
    duts: list[Dut] = Field(min_length=1)

    def dut(self, name: str) -> Dut:
        """The DUT called `name`, or a KeyError that lists the ones there are."""
        for dut in self.duts:
            if dut.name == name:
                return dut
        known = ", ".join(d.name for d in self.duts)
        raise KeyError(f"unknown DUT {name!r} (the inventory has: {known})")
