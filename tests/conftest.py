"""Shared pytest fixtures: the root gate for lab tests.

Lab tests need root (CAP_NET_ADMIN) and build their own namespaces. Without root they
skip with a reason, except in CI (CI=true), where a skipped lab test would hide a broken
lab, so it fails instead.
"""

from __future__ import annotations

import os

import pytest


def lab_unavailable_reason() -> str | None:
    """Why lab tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "lab tests need root (CAP_NET_ADMIN) to build network namespaces"
    if not os.path.exists("/dev/net/tun"):
        return "lab tests need /dev/net/tun for the emulated boards' TAP devices"
    return None


def skip_or_fail(reason: str) -> None:
    """Skip the calling test; under CI=true fail it instead, so CI never hides a gap."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_lab() -> None:
    """Skip (or, under CI=true, fail) the calling test when the lab cannot run."""
    reason = lab_unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/lab/ is a lab test: mark it and gate it on root."""
    for item in items:
        if "/tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(autouse=True)
def _lab_gate(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("lab") is not None:
        require_lab()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser the report checks use (installed by scripts/install-deps.sh)."""
    from bench.report.browser import find_browser

    path = find_browser()
    if path:
        return path
    skip_or_fail("Chromium is not installed (scripts/install-deps.sh installs it)")
    return ""
