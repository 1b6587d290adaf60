"""Inventory validation: the shipped file is valid; every bad input gives one line per
problem naming its YAML path, and `inventory check` exits 2 without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.inventory import InventoryError, load, parse
from bench.inventory.load import yaml_path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "inventory.yaml").read_text()


def problems_of(text: str) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse(text, "inv.yaml")
    return caught.value.lines


def test_shipped_inventory_is_valid() -> None:
    inv = load(ROOT / "inventory.yaml")
    assert inv.dut("linux-host").link.mtu == 1500
    assert inv.bench.peer.address != inv.bench.address.ip


def test_yaml_path_formats_indices() -> None:
    assert yaml_path(("duts", 1, "link", "address")) == "duts[1].link.address"


def test_yaml_syntax_error_names_line() -> None:
    lines = problems_of("lab: [\n  x: 1\n")
    assert len(lines) == 1
    assert lines[0].startswith("inv.yaml: line 3, column 1: YAML syntax error")


def test_address_outside_lab_ranges() -> None:
    lines = problems_of(SHIPPED.replace("192.0.2.10/24", "10.0.0.5/24"))
    assert lines == ["inv.yaml: duts[0].link.address: 10.0.0.5 is outside the lab ranges "
                     "192.0.2.0/24, 198.51.100.0/24"]


def test_unknown_adapter() -> None:
    lines = problems_of(SHIPPED.replace("adapter: agent-v1", "adapter: zephyr-shell", 1))
    assert lines == ["inv.yaml: duts[0].adapter: unknown firmware adapter 'zephyr-shell' "
                     "(known: agent-v1)"]


EXTRA_BOARD = """
  - name: {name}
    kind: board
    {console}
    link: {{address: 192.0.2.41/24, mac: "02:00:00:00:02:41"}}
    profile: linux-6
"""


def test_duplicate_name_and_missing_console_each_get_a_line() -> None:
    text = SHIPPED + EXTRA_BOARD.format(name="linux-host", console="")
    last = len(parse(SHIPPED).duts)  # the appended entry's index
    lines = problems_of(text)
    assert f"inv.yaml: duts[{last}].name: duplicate DUT name 'linux-host' (also duts[0])" in lines
    assert any(line.startswith(f"inv.yaml: duts[{last}].console.url: DUT 'linux-host' of kind "
                               "board has no console") for line in lines)
    assert len(lines) == 2


def test_board_with_console_url_is_valid() -> None:
    text = SHIPPED + EXTRA_BOARD.format(name="board1", console="console: {url: /dev/ttyUSB0}")
    assert parse(text).dut("board1").console.url == "/dev/ttyUSB0"


def test_wrong_type_and_unknown_key() -> None:
    text = SHIPPED.replace("mtu: 1500}", "mtu: big}").replace("tags: [host, linux]",
                                                              "colour: red")
    lines = problems_of(text)
    assert any(line.startswith("inv.yaml: duts[0].link.mtu: Input should be a valid integer")
               for line in lines)
    assert "inv.yaml: duts[0].colour: unknown key (check the spelling)" in lines


def test_bad_mac_and_non_documentation_range() -> None:
    text = SHIPPED.replace('"02:00:00:00:02:10"', '"zz:00"').replace(
        "[192.0.2.0/24, 198.51.100.0/24]", "[10.0.0.0/8]")
    lines = problems_of(text)
    assert any("duts[0].link.mac" in line and "is not a MAC address" in line for line in lines)


def test_check_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHIPPED.replace("192.0.2.10/24", "10.0.0.5/24"))
    run = subprocess.run([sys.executable, "-m", "bench.cli", "inventory", "check", str(bad)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().endswith("is outside the lab ranges 192.0.2.0/24, 198.51.100.0/24")


def test_check_cli_prints_table_for_good_inventory() -> None:
    run = subprocess.run([sys.executable, "-m", "bench.cli", "inventory", "check"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "linux-host" in run.stdout and "sim-linux" in run.stdout
