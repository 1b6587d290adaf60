"""What each TCP stack documents, as data (one YAML file per profile)."""

from __future__ import annotations

from pathlib import Path

PROFILE_DIR = Path(__file__).parent


def profile_names() -> list[str]:
    """Names of the shipped profiles (file stems)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))
