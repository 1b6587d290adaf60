"""Measured results vs the DUT's profile: pass, fail, documented deviation, or not judged.

`judge(measurement, profile, consts, context)` is the one entry point;
`judge_as_measured` calls it with the settings and context the experiment recorded. How a
verdict is decided is described in docs/profiles.md.
"""

from __future__ import annotations

from bench.verdict.judge import judge, judge_as_measured
from bench.verdict.model import Outcome, Verdict

__all__ = ["Outcome", "Verdict", "judge", "judge_as_measured"]
