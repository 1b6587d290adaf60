"""Read a profile YAML, resolve `inherits`, validate; errors name the file and key path.

A variant states only what differs from its parent: top-level keys replace the parent's,
`consts` and `tolerance_by_unit` entries replace the parent's entry of the same name,
and an `expect` entry is merged field by field with the parent's (giving any of value /
expr / from_const / by drops the parent's value source, so a variant can switch from a
literal to a formula).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bench.inventory.load import yaml_path
from bench.profiles.models import VALUE_KEYS, Profile

PROFILE_DIR = Path(__file__).parent
_VALUE_FIELDS = (*VALUE_KEYS, "cases")


class ProfileError(Exception):
    """A profile cannot be used; `lines` holds one line per problem: file: key.path: what."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def _lines(source: str, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        # Union branches add type names (list[float], ...) to loc; keep the YAML keys only.
        loc = tuple(p for p in item["loc"] if isinstance(p, int) or "[" not in p)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        elif item["type"] == "missing":
            message = "required key is missing"
        line = f"{source}: {yaml_path(loc)}: {message}"
        if line not in lines:
            lines.append(line)
    return lines


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ProfileError([f"{path}: cannot read profile: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError([f"{path}: {where}: YAML syntax error: {what}"]) from None
    if not isinstance(data, dict):
        raise ProfileError([f"{path}: (top level): expected a mapping with stack and expect"])
    if "name" in data:
        raise ProfileError([f"{path}: name: unknown key (a profile's name is its file name)"])
    return data


def _merge_expectation(parent: Any, child: Any) -> Any:
    if not isinstance(parent, dict) or not isinstance(child, dict):
        return child
    base = dict(parent)
    if any(k in child for k in _VALUE_FIELDS):
        for key in _VALUE_FIELDS:
            base.pop(key, None)
    base.update(child)
    return base


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """The child's raw profile laid over its (already resolved) parent's."""
    out = {k: v for k, v in parent.items() if k != "inherits"}
    for key, value in child.items():
        if key in ("consts", "tolerance_by_unit", "measure") and isinstance(value, dict):
            out[key] = {**(parent.get(key) or {}), **value}
        elif key == "expect" and isinstance(value, dict):
            merged = dict(parent.get("expect") or {})
            for name, entry in value.items():
                merged[name] = _merge_expectation(merged.get(name), entry)
            out[key] = merged
        else:
            out[key] = value
    return out


def _validate(name: str, directory: Path, raw: dict[str, Any]) -> Profile:
    try:
        return Profile.model_validate({**raw, "name": name})
    except ValidationError as exc:
        raise ProfileError(_lines(str(directory / f"{name}.yaml"), exc)) from None


def _resolve(name: str, directory: Path, chain: tuple[str, ...]) -> tuple[dict[str, Any], Profile]:
    """The merged raw profile and its validation; every ancestor is validated on its own."""
    path = directory / f"{name}.yaml"
    if name in chain:
        loop = " -> ".join((*chain, name))
        raise ProfileError([f"{directory / (chain[0] + '.yaml')}: inherits: loop {loop}"])
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        where = f"{directory / (chain[-1] + '.yaml')}: inherits" if chain else f"{path}"
        raise ProfileError([f"{where}: unknown profile {name!r} (known: {known})"])
    data = _read(path)
    parent = data.get("inherits")
    if parent is not None:
        if not isinstance(parent, str):
            raise ProfileError([f"{path}: inherits: expected a profile name (got {parent!r})"])
        parent_raw, _ = _resolve(parent, directory, (*chain, name))
        data = merge(parent_raw, data)
    return data, _validate(name, directory, data)


def load_profile(name: str, directory: Path = PROFILE_DIR) -> Profile:
    """The named profile with its inheritance resolved; ProfileError if it is not usable."""
    return _resolve(name, directory, ())[1]
