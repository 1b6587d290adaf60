"""The behaviour catalogue (docs/behaviours.md, the project's copy of
../shared/BEHAVIOURS.md): its IDs, and which Robot test cases carry them as tags."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "behaviours.md"
SUITES = ROOT / "robot_suites"
ID = re.compile(r"^\| ([A-Z]{2}-\d{2}) \|", re.MULTILINE)
ID_TAG = re.compile(r"^[A-Z]{2}-\d{2}$")


def behaviour_ids(path: Path = CATALOGUE) -> list[str]:
    """Every behaviour ID of the catalogue, in its order (HS-01, HS-02, ...)."""
    return ID.findall(path.read_text(encoding="utf-8"))


def tagged_tests(suites: Path = SUITES) -> dict[str, list[str]]:
    """Behaviour ID -> the long names of the test cases tagged with it."""
    from robot.api import TestSuiteBuilder

    suite = TestSuiteBuilder().build(str(suites))
    found: dict[str, list[str]] = {}
    for test in suite.all_tests:
        for tag in test.tags:
            if ID_TAG.match(tag):
                found.setdefault(tag, []).append(test.longname)
    return found
