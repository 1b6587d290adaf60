"""Robot listener: stamps every test with the DUT it ran on, and records its outcome
for results.json (the runner merges what every pabot process wrote)."""

from __future__ import annotations

from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn

from bench.robot.session import RunRecorder


class ResultsListener:
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, run_dir: str):
        self.recorder = RunRecorder(Path(run_dir))

    def end_test(self, data, result) -> None:  # noqa: ANN001 (Robot's model objects)
        dut = BuiltIn().get_variable_value("${DUT}", "") or ""
        metadata = dict(result.parent.metadata) if result.parent is not None else {}
        build = metadata.get("Firmware build", "")
        profile = metadata.get("Profile", "")
        if dut:
            result.tags.add(f"dut:{dut}")
        self.recorder.append("tests", {
            "suite": result.parent.longname if result.parent is not None else "",
            "test": result.name,
            "dut": dut,
            "build": build,
            "profile": profile,
            "tags": list(result.tags),
            "status": result.status,
            "message": result.message,
            "elapsed_s": result.elapsedtime / 1000 if hasattr(result, "elapsedtime")
            else result.elapsed_time.total_seconds(),
        })
