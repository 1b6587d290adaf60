"""The impairment rule model: what a user writes (YAML/JSON), validated field by field.

A rule set has one ordered list of stages per direction. A stage is three pieces of
data: `match` (which packets it looks at), `select` (which of those it acts on: all,
a random fraction, a Gilbert-Elliott burst process) and `action` (what it does). The
engine (`pipeline.py`) reads these; a new action is a new model here plus one
registered class there, never a new branch in the engine.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.impair import units

Direction = Literal["to-dut", "to-bench"]
DIRECTIONS: tuple[Direction, ...] = ("to-dut", "to-bench")

TCP_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20,
                 "E": 0x40, "C": 0x80}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _flags(text: str) -> str:
    text = text.upper()
    bad = set(text) - set(TCP_FLAG_BITS)
    if bad:
        raise ValueError(f"unknown TCP flag letters {''.join(sorted(bad))} (use FSRPAUEC)")
    return text


class PortRange(_Model):
    """Inclusive port range; a rule file may write 80 or '1000-2000'."""

    low: int = Field(ge=0, le=65535)
    high: int = Field(ge=0, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, value: object) -> object:
        if isinstance(value, int):
            return {"low": value, "high": value}
        if isinstance(value, str):
            low, _, high = value.partition("-")
            return {"low": int(low), "high": int(high or low)}
        return value


class Match(_Model):
    """Which packets a stage looks at. Unset fields match everything."""

    proto: Literal["any", "ip", "tcp", "udp", "icmp"] = "any"
    src_net: ipaddress.IPv4Network | None = None
    dst_net: ipaddress.IPv4Network | None = None
    src_port: PortRange | None = None
    dst_port: PortRange | None = None
    tcp_flags_set: str = ""  # every letter must be set, e.g. "S" or "SA"
    tcp_flags_clear: str = ""  # every letter must be clear
    payload_min_bytes: int = Field(default=0, ge=0)  # L4 payload length
    payload_max_bytes: int | None = Field(default=None, ge=0)
    seq_min: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)  # TCP sequence number
    seq_max: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    nth: int | None = Field(default=None, ge=1)  # only the Nth packet matching the rest

    _validate_set = field_validator("tcp_flags_set", "tcp_flags_clear")(_flags)

    def needs_headers(self) -> bool:
        """False when the match is 'everything', so the engine can skip parsing."""
        return self.model_dump(exclude_defaults=True, exclude={"nth"}) != {}


class SelectAll(_Model):
    kind: Literal["all"] = "all"


class SelectRandom(_Model):
    """Uniform random choice: each matched packet independently with `probability`."""

    kind: Literal["random"] = "random"
    probability: float

    _p = field_validator("probability", mode="before")(units.parse_probability)


class SelectGilbert(_Model):
    """Gilbert-Elliott two-state burst process, stepped once per matched packet.

    p: good->bad, r: bad->good (mean burst length 1/r), h: chance a packet in the bad
    state is NOT selected (0 = every bad-state packet), k: chance a packet in the good
    state is NOT selected (1 = none). netem's `loss gemodel p r 1-h 1-k`.
    """

    kind: Literal["gilbert"] = "gilbert"
    p: float
    r: float
    h: float = 0.0
    k: float = 1.0

    _probs = field_validator("p", "r", "h", "k", mode="before")(units.parse_probability)


Select = Annotated[SelectAll | SelectRandom | SelectGilbert, Field(discriminator="kind")]


class Drop(_Model):
    kind: Literal["drop"] = "drop"


class Delay(_Model):
    """Fixed delay plus jitter; order is kept unless `reorder` is true."""

    kind: Literal["delay"] = "delay"
    delay_ms: float = Field(ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    distribution: Literal["uniform", "normal"] = "uniform"  # uniform: +-jitter; normal: sd
    reorder: bool = False

    _ms = field_validator("delay_ms", "jitter_ms", mode="before")(units.parse_duration_ms)


class Reorder(_Model):
    """Hold a selected packet back until `depth` later packets have gone past it."""

    kind: Literal["reorder"] = "reorder"
    depth: int = Field(ge=1)
    max_hold_ms: float = Field(default=200.0, gt=0)  # release anyway when traffic stops

    _ms = field_validator("max_hold_ms", mode="before")(units.parse_duration_ms)


class Duplicate(_Model):
    kind: Literal["duplicate"] = "duplicate"
    copies: int = Field(default=1, ge=1, le=16)


class Corrupt(_Model):
    """Flip one bit of the L4 (TCP/UDP/ICMP) header or payload so its checksum fails."""

    kind: Literal["corrupt"] = "corrupt"
    where: Literal["any", "header", "payload"] = "any"


class Rate(_Model):
    """Token bucket: link rate, optional burst, tail drop when the queue is full."""

    kind: Literal["rate"] = "rate"
    rate_bps: int = Field(gt=0)
    burst_bytes: int = Field(default=0, ge=0)
    limit_packets: int | None = Field(default=1000, ge=1)
    limit_bytes: int | None = Field(default=None, ge=1)

    _rate = field_validator("rate_bps", mode="before")(units.parse_rate_bps)
    _size = field_validator("burst_bytes", "limit_bytes", mode="before")(
        lambda v: None if v is None else units.parse_size_bytes(v))


Action = Annotated[Drop | Delay | Reorder | Duplicate | Corrupt | Rate,
                   Field(discriminator="kind")]


class Stage(_Model):
    """One step of a direction's pipeline."""

    name: str | None = None
    match: Match = Match()
    select: Select = SelectAll()
    action: Action
    log: Literal["all", "drops", "none"] = "all"  # which impaired packets go to the log

    def label(self, index: int) -> str:
        return self.name or f"{index}:{self.action.kind}"


class RuleSet(_Model):
    """Everything the impairment generator does, for both directions, plus the seed."""

    seed: int = 0
    to_dut: list[Stage] = Field(default_factory=list, alias="to-dut")
    to_bench: list[Stage] = Field(default_factory=list, alias="to-bench")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def stages(self, direction: Direction) -> list[Stage]:
        return self.to_dut if direction == "to-dut" else self.to_bench

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def load_rules(data: object) -> RuleSet:
    """Validate a parsed rule document (dict from YAML/JSON)."""
    return RuleSet.model_validate(data if data is not None else {})


def first_error(exc: Exception) -> str:
    """One line naming what is wrong, for the CLI and the control socket."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = exc.errors()[0]  # type: ignore[attr-defined]
        where = ".".join(str(part) for part in first["loc"]) or "rules"
        message = first["msg"].removeprefix("Value error, ")
        return f"{where}: {message}"
    return str(exc)
