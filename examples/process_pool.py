"""A process pool: a parent feeds jobs to three child workers; one crashes now and then.

Run it: ``python examples/process_pool.py [--jobs N] [--backend trio]``.

Each worker is a ``ProcessDaemon`` running :func:`worker` in its own Python process,
wired to the parent by two channels: ``jobs`` (the parent's round-robin balancer feeds
it) and ``results`` (merged back into one stream in the parent). Worker 1 raises after
every ``CRASH_AFTER`` jobs it handled: the parent's ``on_error="restart"`` policy starts
a fresh process, and the job it had not acknowledged goes to the new process again.
Jobs are therefore processed at least once; the collector keys results by job number,
so every result is collected exactly once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from tickwork import (
    Channel,
    Context,
    ReceiveStream,
    RestartPolicy,
    SendStream,
    Supervisor,
    daemon,
    open_channel,
)
from tickwork.cluster import ProcessDaemon
from tickwork.recipes.load_balance import load_balance
from tickwork.recipes.merge import merge

WORKERS = 3
JOB_SECONDS = 0.001  # each job burns this much CPU in the child
CRASH_AFTER = 25  # worker 1 fails after handling this many jobs in one process
PREFETCH = 4  # jobs in flight per worker (the ZeroMQ credit window)
HERE = str(Path(__file__).resolve().parent)


def work(job: int, seconds: float) -> int:
    """The job itself: ``seconds`` of CPU, then a result anyone can check."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass
    return job * job


@daemon
async def worker(
    ctx: Context,
    index: int,
    seconds: float,
    crash_after: int,
    *,
    jobs: ReceiveStream[int],
    results: SendStream[list[int]],
) -> None:
    """Runs in the child: square each job; with ``crash_after``, fail now and then."""
    handled = 0
    async for job in jobs:
        if crash_after and handled == crash_after:
            raise RuntimeError(f"worker {index} crashed on job {job} (as it does)")
        await results.send([job, work(job, seconds)])
        handled += 1


async def until_stopped(ctx: Context, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or the supervisor is asked to stop."""
    async with anyio.create_task_group() as tg:

        async def body() -> None:
            await work
            tg.cancel_scope.cancel()

        tg.start_soon(body)
        await ctx.stop_event.wait()
        tg.cancel_scope.cancel()


@dataclass
class PoolRun:
    """What a run collected: one result per job, and the duplicates it dropped."""

    results: dict[int, int] = field(default_factory=dict[int, int])
    duplicates: int = 0
    restarts: int = 0
    ready_at: float = 0.0  # time.perf_counter() once every worker was up
    done_at: float = 0.0  # ... and once every result was in


async def run_pool(
    jobs: int,
    *,
    backend: str = "asyncio",
    seconds: float = JOB_SECONDS,
    crash_after: int = CRASH_AFTER,
    on_result: Callable[[int, list[ProcessDaemon]], None] | None = None,
) -> PoolRun:
    """Feed ``jobs`` jobs to the pool and collect every result once.

    ``on_result(collected, workers)`` runs after each new result (the tests SIGKILL
    workers from it).
    """
    run = PoolRun()
    source: Channel[int] = open_channel(PREFETCH)
    to_workers: list[Channel[int]] = [open_channel(PREFETCH) for _ in range(WORKERS)]
    from_workers: list[Channel[list[int]]] = [open_channel(PREFETCH) for _ in range(WORKERS)]
    collected: Channel[list[int]] = open_channel(PREFETCH)

    async def feed(ctx: Context) -> None:
        async with source.send:
            for job in range(jobs):
                await source.send.send(job)

    async def balance(ctx: Context) -> None:
        await until_stopped(ctx, load_balance(source.recv, [ch.send for ch in to_workers]))

    async def gather(ctx: Context) -> None:
        await until_stopped(ctx, merge([ch.recv for ch in from_workers], collected.send))

    workers: list[ProcessDaemon] = []
    async with Supervisor(on_error="restart", restart=RestartPolicy(base=0.01)) as sup:
        for index in range(WORKERS):
            workers.append(
                ProcessDaemon(
                    "process_pool:worker",
                    index,
                    seconds,
                    crash_after if index == 1 else 0,
                    name=f"worker-{index}",
                    env={"PYTHONPATH": HERE},
                    backend="trio" if backend == "trio" else "asyncio",
                    channels={"jobs": to_workers[index].recv, "results": from_workers[index].send},
                    channel_maxsize=PREFETCH,
                )
            )
            sup.add(workers[-1])
        await sup.wait_all_started()
        run.ready_at = time.perf_counter()
        sup.spawn(feed)
        sup.spawn(balance)
        sup.spawn(gather)
        while len(run.results) < jobs:
            job, value = await collected.recv.receive()
            if job in run.results:
                run.duplicates += 1
                continue
            run.results[job] = value
            if on_result is not None:
                on_result(len(run.results), workers)
        run.done_at = time.perf_counter()
        run.restarts = sum(h.restart_count for h in sup.snapshot().values())
        await sup.stop()
    return run


def main() -> None:
    """Parse the command line, run the pool, print a summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    started = time.perf_counter()
    run = anyio.run(run_pool, args.jobs, backend=args.backend)
    elapsed = time.perf_counter() - started
    ok = run.results == {job: job * job for job in range(args.jobs)}
    print(
        f"{len(run.results)} results ({'all correct' if ok else 'WRONG'}), "
        f"{run.duplicates} duplicates dropped, {run.restarts} restarts, {elapsed:.2f}s"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
