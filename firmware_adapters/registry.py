"""Adapters register their dialect name with a decorator; nothing else lists them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

ADAPTERS: dict[str, type] = {}

T = TypeVar("T", bound=type)


def register(dialect: str) -> Callable[[T], T]:
    def add(cls: T) -> T:
        ADAPTERS[dialect] = cls
        return cls

    return add
