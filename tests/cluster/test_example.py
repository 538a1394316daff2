"""examples/process_pool.py: three child workers, crashes and SIGKILLs, results once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tickwork.cluster import ProcessDaemon

EXAMPLE = Path(__file__).parents[2] / "examples" / "process_pool.py"
SEED = 12
"""Which worker each SIGKILL hits: seeded, so a failure names a reproducible run."""


def pool_module() -> ModuleType:
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import process_pool  # pyright: ignore[reportMissingImports]
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    return process_pool


class Killer:
    """SIGKILLs a random live worker each time ``every`` more results were collected."""

    def __init__(self, every: int, jobs: int) -> None:
        self.every = every
        self.jobs = jobs  # no kill at the last result: the pool is stopping then
        self.kills = 0
        self._rng = random.Random(SEED)

    def __call__(self, collected: int, workers: list[ProcessDaemon]) -> None:
        if collected % self.every or collected >= self.jobs:
            return
        live = [w for w in workers if w.status == "running" and w.returncode is None]
        if live and (pid := self._rng.choice(live).pid) is not None:
            os.kill(pid, signal.SIGKILL)  # results may be in flight right now
            self.kills += 1


async def check_pool(
    backend: str, jobs: int, kill_every: int, crash_after: int, kills: int
) -> None:
    killer = Killer(kill_every, jobs)
    run = await pool_module().run_pool(
        jobs, backend=backend, seconds=0.0005, crash_after=crash_after, on_result=killer
    )
    assert run.results == {job: job * job for job in range(jobs)}  # each job, once
    assert killer.kills >= kills
    assert run.restarts >= killer.kills


async def test_pool_collects_every_result_once_across_crashes_and_kills(backend: str) -> None:
    await check_pool(backend, 90, 30, 20, kills=2)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_pool_collects_every_result_once_across_twenty_sigkills(backend: str) -> None:
    await check_pool(backend, 420, 20, 0, kills=20)


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
