"""What each TCP stack documents, as data (one YAML file per profile).

`load_profile(name)` reads `<name>.yaml` from this folder, resolves `inherits` and
validates it; the format is described in docs/profiles.md. Suites never hard-code a
stack's numbers: they judge measurements against the DUT's profile (`bench.verdict`).
"""

from __future__ import annotations

from bench.profiles.load import PROFILE_DIR, ProfileError, load_profile
from bench.profiles.models import Expectation, Profile


def profile_names() -> list[str]:
    """Names of the shipped profiles (file stems)."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


__all__ = [
    "PROFILE_DIR",
    "Expectation",
    "Profile",
    "ProfileError",
    "load_profile",
    "profile_names",
]
