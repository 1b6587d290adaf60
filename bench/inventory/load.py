"""Read inventory.yaml into an Inventory, or fail with one line per problem and its path."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from bench.inventory.checks import problems
from bench.inventory.models import Inventory

DEFAULT_PATH = Path("inventory.yaml")


class InventoryError(Exception):
    """The inventory cannot be used; `lines` holds one readable line per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def yaml_path(loc: tuple[str | int, ...]) -> str:
    """('duts', 1, 'link', 'address') -> 'duts[1].link.address'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _pydantic_lines(source: str, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        # Union/tagged branches add type names to loc; keep only the YAML path parts.
        loc = tuple(p for p in item["loc"] if isinstance(p, int) or not p[:1].isupper())
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif "input" in item and item["type"] not in ("value_error",):
            message = f"{message} (got {item['input']!r})"
        lines.append(f"{source}: {yaml_path(loc)}: {message}")
    return lines


def parse(text: str, source: str = str(DEFAULT_PATH)) -> Inventory:
    """Validate inventory text; raise InventoryError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InventoryError([f"{source}: {where}: YAML syntax error: {what}"]) from None
    if not isinstance(data, dict):
        raise InventoryError([f"{source}: (top level): expected a mapping with lab, bench, duts"])
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(_pydantic_lines(source, exc)) from None
    found = problems(inventory)
    if found:
        raise InventoryError([f"{source}: {path}: {message}" for path, message in found])
    return inventory


def load(path: str | Path = DEFAULT_PATH) -> Inventory:
    """Read and validate an inventory file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InventoryError([f"{path}: cannot read inventory: {exc.strerror}"]) from None
    return parse(text, str(path))
