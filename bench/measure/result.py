"""What every measurement returns: a figure with its unit, the samples behind it, how
precisely it was measured, and the evidence (pcap + packet numbers, console lines).

A measurement never judges; `bench.verdict` compares these against a profile, and
`bench.report` stores them in results.json. Everything here serialises to JSON as is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Value = float | int | bool | str | list[float] | list[int] | None


class Tolerance(BaseModel):
    """Uncertainty of a figure: max(abs, pct% of the value) (packetdrill's rule)."""

    model_config = ConfigDict(frozen=True)

    abs: float = 0.0
    pct: float = 0.0
    why: str = ""

    def allowed(self, expected: float) -> float:
        return max(self.abs, abs(expected) * self.pct / 100.0)


class Evidence(BaseModel):
    """Where a reader can check a figure: the capture and the packets in it, the console."""

    pcap: str | None = None
    frames: list[int] = Field(default_factory=list)
    console_log: str | None = None
    console_lines: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)  # plots, impairment logs, ...
    note: str = ""


class Measurement(BaseModel):
    """One figure about one DUT, e.g. syn_retries = 6 count on lwip-m3."""

    name: str
    dut: str
    value: Value
    unit: str
    behaviours: list[str] = Field(default_factory=list)  # catalogue IDs, e.g. ["HS-08"]
    samples: list[float] = Field(default_factory=list)
    tolerance: Tolerance = Tolerance()
    evidence: Evidence = Evidence()
    details: dict[str, Any] = Field(default_factory=dict)
    # details["settings"]: DUT constants the experiment set (judged with them in force);
    # details["context"]: what it set up that the profile's formulas read (peer_mss, ...).
    # further figures of the same experiment, each judged by its own name
    # (syn_retries carries syn_intervals_s, syn_give_up_s, ...)
    related: list[Measurement] = Field(default_factory=list)

    def figures(self) -> list[Measurement]:
        """This figure and the ones it carries, in order: what a profile judges."""
        return [self.model_copy(update={"related": []}), *self.related]

    def part(self, name: str, value: Value, unit: str, tolerance: Tolerance | None = None,
             note: str = "", **details: Any) -> Measurement:
        """A further figure of this experiment, with the same evidence and settings."""
        evidence = self.evidence.model_copy(update={"note": note or self.evidence.note})
        return Measurement(name=name, dut=self.dut, value=value, unit=unit,
                           behaviours=self.behaviours, samples=self.samples,
                           tolerance=tolerance or Tolerance(), evidence=evidence,
                           details={"from": self.name,
                                    "settings": self.details.get("settings", {}),
                                    "context": self.details.get("context", {}), **details})

    def describe(self) -> str:
        """'syn_retries = 6 count (+-0)' for messages and logs."""
        tol = self.tolerance
        spread = f" (+-{tol.abs:g}{' ' + self.unit if tol.abs else ''})" if tol.abs else ""
        return f"{self.name} = {self.value} {self.unit}{spread}".rstrip()
