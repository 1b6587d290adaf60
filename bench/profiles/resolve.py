"""What a profile expects for one DUT at one moment: its values follow the DUT.

Names in formulas resolve in this order, later winning: the profile's documented
consts, the DUT's `consts` reply (so a changed sysctl moves the expectation with it),
then the test's context (link_mtu, peer_mss, ... as the test set them up).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.profiles import expr
from bench.profiles.models import Profile, ValueSpec

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_const(text: str) -> Any:
    """A console const as a value: '6' -> 6, '0.5' -> 0.5, '4096,131072' -> [4096, 131072],
    'cubic' -> 'cubic'."""
    text = text.strip()
    if "," in text:
        return [parse_const(part) for part in text.split(",")]
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def namespace(
    profile: Profile, consts: Mapping[str, str], context: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every name a formula may read, and where each came from ('profile', 'DUT', 'context')."""
    names: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for layer, values in (
        ("profile", profile.documented()),
        ("DUT", {k: parse_const(v) for k, v in consts.items()}),
        ("context", dict(context)),
    ):
        names.update(values)
        origin.update(dict.fromkeys(values, layer))
    return names, origin


@dataclass(frozen=True)
class Expected:
    """The value a profile expects now; `value` None means: do not judge (see `why`)."""

    value: Any
    why: str = ""  # why there is no value, when value is None
    follows: str = ""  # 'tcp_synack_retries=2 from the DUT', for messages


def value_of(spec: ValueSpec, names: Mapping[str, Any], origin: Mapping[str, str]) -> Expected:
    """Evaluate one value source; raise expr.ExprError if the names it needs are missing."""
    if spec.by is not None:
        key = names.get(spec.by)
        if key is None:
            raise expr.UnknownName(spec.by)
        follows = f"{spec.by}={key} from the {origin.get(spec.by, 'context')}"
        cases = spec.cases or {}
        if str(key) not in cases:
            return Expected(None, f"no case for {spec.by}={key}", follows)
        value = cases[str(key)]
        why = "" if value is not None else f"no fixed value for {spec.by}={key}"
        return Expected(value, why, follows)
    if spec.from_const is not None:
        name = spec.from_const
        if name not in names:
            raise expr.UnknownName(name)
        follows = f"{name}={_show(names[name])} from the {origin.get(name, 'context')}"
        value = expr.evaluate(spec.expr, names) if spec.expr else names[name]
        return Expected(value, "" if value is not None else "the formula gives no value", follows)
    if spec.expr is not None:
        value = expr.evaluate(spec.expr, names)
        return Expected(value, "" if value is not None else "the formula gives no value")
    return Expected(spec.value, "" if spec.value is not None else "the profile gives no value")


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
