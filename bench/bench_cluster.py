"""tickwork.cluster: ProcessDaemon start-up, restart after SIGKILL, and pool throughput.

    uv run --frozen python bench/bench_cluster.py [--quick] [--reps N] [--backend B] [--versions]

- start: from ``sup.add(ProcessDaemon(...))`` until ``sup.wait_all_started()`` returns
  (the child's ``on_start`` is done), median of the repetitions.
- restart: from SIGKILL of a running child until its replacement reports ``running``
  (backoff base 0.01 s included; heartbeat 0.02 s, so the measurement's own wait for
  the next health message costs at most that).
- pool: jobs per second of 1 ms CPU jobs through examples/process_pool.py's pool of
  3 child workers (timed from every worker up to the last result; no crashes), against
  ``concurrent.futures.ProcessPoolExecutor(3)`` (``submit`` per job) and
  ``multiprocessing.Pool(3)`` (``imap_unordered``, chunksize 1), each warmed up first,
  interleaved round-robin in one run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.metadata
import multiprocessing
import os
import platform
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from tickwork import RestartPolicy, Supervisor, open_channel
from tickwork.cluster import ProcessDaemon

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import process_pool  # noqa: E402  # pyright: ignore[reportMissingImports]

WORKERS = 3
JOB_SECONDS = 0.001
TARGETS = {"start": 0.5, "restart": 0.5, "pool ratio": 0.8}


def work(job: int) -> int:
    """The contenders' job: the same 1 ms of CPU as the pool's workers."""
    return process_pool.work(job, JOB_SECONDS)


def _worker_daemon(backend: str, **options: Any) -> ProcessDaemon:
    return ProcessDaemon(
        "process_pool:worker",
        0,
        JOB_SECONDS,
        0,
        name="w",
        env={"PYTHONPATH": str(ROOT / "examples")},
        backend="trio" if backend == "trio" else "asyncio",
        channels={"jobs": open_channel(1).recv, "results": open_channel(1).send},
        **options,
    )


async def measure_start(backend: str) -> float:
    async with Supervisor() as sup:
        started = time.perf_counter()
        sup.add(_worker_daemon(backend))
        await sup.wait_all_started()
        elapsed = time.perf_counter() - started
        await sup.stop()
    return elapsed


async def measure_restart(backend: str) -> float:
    daemon = _worker_daemon(backend, heartbeat_interval=0.02, parent_timeout=1.0)
    async with Supervisor(on_error="restart", restart=RestartPolicy(base=0.01)) as sup:
        sup.add(daemon)
        await sup.wait_all_started()
        old = daemon.pid
        assert old is not None
        started = time.perf_counter()
        os.kill(old, signal.SIGKILL)
        while daemon.pid == old or daemon.status != "running":
            await daemon.next_health()
        elapsed = time.perf_counter() - started
        await sup.stop()
    return elapsed


def pool_rate(jobs: int, backend: str) -> float:
    run = anyio.run(lambda: process_pool.run_pool(jobs, backend=backend, crash_after=0))
    assert run.results == {job: job * job for job in range(jobs)}
    return jobs / (run.done_at - run.ready_at)


def executor_rate(executor: concurrent.futures.ProcessPoolExecutor, jobs: int) -> float:
    started = time.perf_counter()
    futures = [executor.submit(work, job) for job in range(jobs)]
    results = [f.result() for f in futures]
    elapsed = time.perf_counter() - started
    assert results == [job * job for job in range(jobs)]
    return jobs / elapsed


def mp_rate(pool: Any, jobs: int) -> float:
    started = time.perf_counter()
    results = sorted(pool.imap_unordered(work, range(jobs), chunksize=1))
    elapsed = time.perf_counter() - started
    assert results == [job * job for job in range(jobs)]
    return jobs / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--backend", action="append", choices=("asyncio", "trio"))
    parser.add_argument("--versions", action="store_true")
    args = parser.parse_args()
    if args.versions:
        print(f"python {platform.python_version()}, anyio {importlib.metadata.version('anyio')}")
        pyzmq, trio = (importlib.metadata.version(name) for name in ("pyzmq", "trio"))
        print(f"pyzmq {pyzmq}, trio {trio}")
        return 0
    reps = args.reps or (3 if args.quick else 7)
    jobs = 300 if args.quick else 1500
    backends = args.backend or ["asyncio", "trio"]
    print(f"load: {os.getloadavg()}  reps: {reps}  jobs: {jobs}")
    print(
        "| backend | start median (s) | restart median (s) | tickwork pool jobs/s | "
        "ProcessPoolExecutor jobs/s | multiprocessing.Pool jobs/s | ratio vs PPE |"
    )
    print("|---|---|---|---|---|---|---|")
    context = multiprocessing.get_context("forkserver")
    with (
        concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as executor,
        context.Pool(WORKERS) as pool,
    ):
        executor_rate(executor, 30)  # warm up: the workers exist from now on
        mp_rate(pool, 30)
        for backend in backends:
            starts = [anyio.run(measure_start, backend, backend=backend) for _ in range(reps)]
            restarts = [anyio.run(measure_restart, backend, backend=backend) for _ in range(reps)]
            ours: list[float] = []
            ppe: list[float] = []
            mpp: list[float] = []
            ratios: list[float] = []
            for _ in range(reps):
                a = pool_rate(jobs, backend)
                b = executor_rate(executor, jobs)
                c = mp_rate(pool, jobs)
                ours.append(a)
                ppe.append(b)
                mpp.append(c)
                ratios.append(a / b)
            med = statistics.median
            print(
                f"| {backend} | {med(starts):.3f} | {med(restarts):.3f} | {med(ours):,.0f} | "
                f"{med(ppe):,.0f} | {med(mpp):,.0f} | {med(ratios):.2f} |"
            )
    print(
        f"targets: start < {TARGETS['start']} s, restart < {TARGETS['restart']} s + backoff, "
        f"pool ratio >= {TARGETS['pool ratio']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
