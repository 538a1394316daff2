"""examples/process_pool.py: three child workers, one crashing now and then, results once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "process_pool.py"


async def test_pool_collects_every_result_once_across_crashes(backend: str) -> None:
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import process_pool  # pyright: ignore[reportMissingImports]
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    run = await process_pool.run_pool(90, backend=backend, seconds=0.0005, crash_after=20)
    assert run.results == {job: job * job for job in range(90)}
    assert run.restarts >= 1


def test_pool_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--jobs", "60"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "60 results (all correct)" in result.stdout
