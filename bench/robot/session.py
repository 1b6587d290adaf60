"""Where the Robot library keeps what a run produced, so the runner can merge it.

Each Robot process (pabot starts several) appends JSON lines to its own files in the run
folder: measurements with their verdicts, and one row per finished test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class RunRecorder:
    """Appends records to `<run_dir>/parts/<kind>-<pid>.jsonl` (one writer per process)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.parts = run_dir / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)

    def append(self, kind: str, record: dict[str, Any]) -> None:
        path = self.parts / f"{kind}-{os.getpid()}.jsonl"
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, default=str) + "\n")


def read_parts(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    """Every record of `kind` written by any process of the run."""
    rows: list[dict[str, Any]] = []
    for path in sorted((run_dir / "parts").glob(f"{kind}-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows
