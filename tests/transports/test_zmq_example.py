"""examples/remote_pipeline.py runs: two processes, two Supervisors, one remote channel."""

from __future__ import annotations

import pathlib
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "remote_pipeline.py"


def test_remote_pipeline_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--count", "200", "--backend", "trio"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "consumer: 200 readings" in result.stdout
    assert "in order, none lost" in result.stdout
