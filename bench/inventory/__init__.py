"""The lab as data: load and validate inventory.yaml."""

from bench.inventory.load import DEFAULT_PATH, InventoryError, load, parse
from bench.inventory.models import Dut, DutKind, Inventory

__all__ = ["DEFAULT_PATH", "Dut", "DutKind", "Inventory", "InventoryError", "load", "parse"]
