"""Measured results vs the DUT's profile: pass, fail, documented deviation, or not judged.

`judge(measurement, profile, consts, context)` is the one entry point; how a verdict is
decided is described in docs/profiles.md.
"""

from __future__ import annotations

from bench.verdict.judge import judge
from bench.verdict.model import Outcome, Verdict

__all__ = ["Outcome", "Verdict", "judge"]
