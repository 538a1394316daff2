"""Recipe throughput, side by side with the peer library chrono-daemon 0.1.1.

Three workloads, each on asyncio and trio, each contender on its own library's
channels (``tickwork.open_channel`` / ``chrono_daemon.open_channel``):

* **tee**: one producer sends N ints into a source channel; ``tee`` copies each to 4
  destination channels, each drained by its own consumer. Channel maxsize 0
  (rendezvous) and 64. Contenders: ``tickwork.recipes.fanout.tee``, chrono's
  ``tee`` (a task group per item), and a hand-written sequential loop over the 4
  sends on tickwork channels (``for d in dests: await d.send(item)``) -- the code a
  user would write without the recipe. items/s = N / elapsed.
* **worker_pool**: a producer sends N jobs (incoming maxsize 64) to a pool of 8
  workers with a no-op async handler; a consumer drains the results (maxsize 64).
  jobs/s = N / elapsed.
* **batcher**: 1,000 concurrent submitters each ``submit`` R requests one after the
  other into one incoming channel (maxsize 64); ``batcher_loop`` (max_batch 32, no
  delay window) calls an async identity ``forward`` per batch. requests/s =
  1,000 * R / elapsed.

Every consumer checks what it got (sums / counts), so every contender really delivers
every item. Times run from starting the tasks to joining them (event-loop start-up is
not timed). Medians over interleaved repetitions (see bench/_harness.py).

Run: ``uv run --frozen --group bench python bench/bench_recipes.py [--quick]``.
"""

# chrono-daemon lives in the `bench` dependency group only; `make test` type-checks
# this file without it installed.
# pyright: reportMissingImports=false

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import chrono_daemon
from chrono_daemon.recipes.batcher import Pending as ChronoPending
from chrono_daemon.recipes.batcher import batcher_loop as chrono_batcher_loop
from chrono_daemon.recipes.batcher import submit as chrono_submit
from chrono_daemon.recipes.fanout import tee as chrono_tee
from chrono_daemon.recipes.worker_pool import worker_pool as chrono_worker_pool

import tickwork
from _harness import (
    Case,
    Options,
    fmt_rate,
    fmt_ratio,
    fmt_spread,
    now,
    parse_args,
    print_header,
    print_table,
    round_robin,
)
from tickwork.recipes.batcher import Pending, batcher_loop, submit
from tickwork.recipes.fanout import tee
from tickwork.recipes.worker_pool import worker_pool

FANOUT = 4
WORKERS = 8
SUBMITTERS = 1_000
TEE_MAXSIZES = (0, 64)

Runner = Callable[[int], Awaitable[float]]


def _check(got: int, expected: int, who: str) -> None:
    if got != expected:
        raise AssertionError(f"{who}: got {got}, expected {expected}")


# -- tee --------------------------------------------------------------------------


async def _drive_tee(
    n: int,
    src_send: tickwork.SendStream[int] | chrono_daemon.SendStream[int],
    recvs: list[tickwork.ReceiveStream[int]] | list[chrono_daemon.ReceiveStream[int]],
    fan: Callable[[], Coroutine[Any, Any, None]],
    who: str,
) -> float:
    totals = [0] * len(recvs)

    async def producer() -> None:
        for i in range(n):
            await src_send.send(i)
        await src_send.aclose()

    async def consumer(k: int) -> None:
        recv = recvs[k]
        total = 0
        while True:
            try:
                total += await recv.receive()
            except (tickwork.EndOfStream, chrono_daemon.EndOfStream):
                break
        totals[k] = total

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(fan)
        for k in range(len(recvs)):
            tg.start_soon(consumer, k)
    elapsed = now() - start
    for total in totals:
        _check(total, n * (n - 1) // 2, who)
    return elapsed


def tee_tickwork(maxsize: int) -> Runner:
    async def run(n: int) -> float:
        src: tickwork.Channel[int] = tickwork.open_channel(maxsize)
        outs: list[tickwork.Channel[int]] = [tickwork.open_channel(maxsize) for _ in range(FANOUT)]
        dests = [c.send for c in outs]
        return await _drive_tee(
            n, src.send, [c.recv for c in outs], lambda: tee(src.recv, *dests), "tickwork tee"
        )

    return run


def tee_sequential(maxsize: int) -> Runner:
    async def run(n: int) -> float:
        src: tickwork.Channel[int] = tickwork.open_channel(maxsize)
        outs: list[tickwork.Channel[int]] = [tickwork.open_channel(maxsize) for _ in range(FANOUT)]
        dests = [c.send for c in outs]

        async def loop() -> None:
            async for item in src.recv:
                for dest in dests:
                    await dest.send(item)
            for dest in dests:
                await dest.aclose()

        return await _drive_tee(n, src.send, [c.recv for c in outs], loop, "sequential loop")

    return run


def tee_chrono(maxsize: int) -> Runner:
    async def run(n: int) -> float:
        src: chrono_daemon.Channel[int] = chrono_daemon.open_channel(maxsize)
        outs: list[chrono_daemon.Channel[int]] = [
            chrono_daemon.open_channel(maxsize) for _ in range(FANOUT)
        ]
        dests = [c.send for c in outs]
        return await _drive_tee(
            n,
            src.send,
            [c.recv for c in outs],
            lambda: chrono_tee(src.recv, *dests),
            "chrono tee",
        )

    return run


# -- worker_pool ------------------------------------------------------------------


async def _noop(job: int) -> int:
    return job


async def pool_tickwork(n: int) -> float:
    incoming: tickwork.Channel[int] = tickwork.open_channel(64)
    results: tickwork.Channel[int | Exception] = tickwork.open_channel(64)
    total = 0

    async def producer() -> None:
        async with incoming.send:
            for i in range(n):
                await incoming.send.send(i)

    async def consumer() -> None:
        nonlocal total
        async for result in results.recv:
            assert not isinstance(result, Exception)
            total += result

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(consumer)
        tg.start_soon(
            lambda: worker_pool(incoming.recv, results.send, _noop, workers=WORKERS),
        )
    elapsed = now() - start
    _check(total, n * (n - 1) // 2, "tickwork worker_pool")
    return elapsed


async def pool_chrono(n: int) -> float:
    incoming: chrono_daemon.Channel[int] = chrono_daemon.open_channel(64)
    results: chrono_daemon.Channel[int | Exception] = chrono_daemon.open_channel(64)
    total = 0

    async def producer() -> None:
        for i in range(n):
            await incoming.send.send(i)
        await incoming.send.aclose()

    async def consumer() -> None:
        nonlocal total
        while True:
            try:
                result = await results.recv.receive()
            except chrono_daemon.EndOfStream:
                break
            assert not isinstance(result, Exception)
            total += result

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(consumer)
        tg.start_soon(
            lambda: chrono_worker_pool(incoming.recv, results.send, _noop, workers=WORKERS),
        )
    elapsed = now() - start
    _check(total, n * (n - 1) // 2, "chrono worker_pool")
    return elapsed


# -- batcher ----------------------------------------------------------------------


async def _identity(batch: list[int]) -> list[int]:
    return batch


async def batch_tickwork(per_submitter: int) -> float:
    incoming: tickwork.Channel[Pending[int, int]] = tickwork.open_channel(64)
    total = 0

    async def submitter(k: int) -> None:
        nonlocal total
        for j in range(per_submitter):
            value = await submit(incoming.send, k * per_submitter + j)
            total += value

    start = now()
    async with anyio.create_task_group() as outer:
        outer.start_soon(lambda: batcher_loop(incoming.recv, _identity, max_batch=32))
        async with anyio.create_task_group() as tg:
            for k in range(SUBMITTERS):
                tg.start_soon(submitter, k)
        await incoming.send.aclose()
    elapsed = now() - start
    n = SUBMITTERS * per_submitter
    _check(total, n * (n - 1) // 2, "tickwork batcher")
    return elapsed


async def batch_chrono(per_submitter: int) -> float:
    incoming: chrono_daemon.Channel[ChronoPending[int, int]] = chrono_daemon.open_channel(64)
    total = 0

    async def submitter(k: int) -> None:
        nonlocal total
        for j in range(per_submitter):
            value = await chrono_submit(incoming.send, k * per_submitter + j)
            total += value

    start = now()
    async with anyio.create_task_group() as outer:
        outer.start_soon(lambda: chrono_batcher_loop(incoming.recv, _identity, max_batch=32))
        async with anyio.create_task_group() as tg:
            for k in range(SUBMITTERS):
                tg.start_soon(submitter, k)
        await incoming.send.aclose()
    elapsed = now() - start
    n = SUBMITTERS * per_submitter
    _check(total, n * (n - 1) // 2, "chrono batcher")
    return elapsed


# -- driver -----------------------------------------------------------------------


def sizes(options: Options) -> dict[str, int]:
    if options.quick:
        return {"tee": 5_000, "pool": 10_000, "batch": 1}
    # The peer's submitters spin (send_nowait + checkpoint) while the channel is full,
    # so its batcher runs at ~100 requests/s here: 2 requests each keeps a repetition
    # under a minute.
    return {"tee": 50_000, "pool": 100_000, "batch": 2}


def make_case(group: str, backend: str, label: str, fn: Runner, n: int, units: int) -> Case:
    def run() -> dict[str, float]:
        elapsed = anyio.run(fn, n, backend=backend)
        return {"seconds": elapsed, "rate": units / elapsed}

    return Case(group=f"{backend} {group}", backend=backend, contender=label, run=run)


WORKLOADS = ("tee", "worker_pool", "batcher")


def _own_args() -> tuple[set[str], bool]:
    """Take this script's own options out of ``sys.argv`` before the shared parser runs.

    ``--workload NAME`` (repeatable) runs only those workloads; ``--skip-peer`` leaves
    chrono-daemon out (for focused re-runs of tickwork vs the sequential loop; the
    recorded figures come from full runs).
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--workload", choices=WORKLOADS, action="append")
    parser.add_argument("--skip-peer", action="store_true")
    own, rest = parser.parse_known_args()
    sys.argv[1:] = rest
    return set(own.workload or WORKLOADS), own.skip_peer


def main() -> None:
    workloads, skip_peer = _own_args()
    options = parse_args(__doc__ or "")
    size = sizes(options)
    print_header(
        "Recipes: tee, worker_pool, batcher (tickwork vs chrono-daemon 0.1.1)",
        options,
        [
            "rate: median over reps, higher is better. ratio = tickwork rate / this row's "
            "rate (> 1: tickwork faster).",
            f"sizes: tee N={size['tee']:,} items to {FANOUT} dests; worker_pool "
            f"N={size['pool']:,} jobs, {WORKERS} workers; batcher {SUBMITTERS:,} submitters "
            f"x {size['batch']} requests, max_batch 32",
        ],
    )
    cases: list[Case] = []
    groups: list[str] = []
    if "tee" in workloads:
        groups += [f"tee maxsize={m}" for m in TEE_MAXSIZES]
    groups += [w for w in ("worker_pool", "batcher") if w in workloads]
    for backend in options.backends:
        if "tee" in workloads:
            for maxsize in TEE_MAXSIZES:
                group = f"tee maxsize={maxsize}"
                for label, fn in (
                    ("tickwork tee", tee_tickwork(maxsize)),
                    ("sequential loop", tee_sequential(maxsize)),
                    ("chrono-daemon tee", tee_chrono(maxsize)),
                ):
                    cases.append(make_case(group, backend, label, fn, size["tee"], size["tee"]))
        if "worker_pool" in workloads:
            for label, fn in (
                ("tickwork worker_pool", pool_tickwork),
                ("chrono-daemon worker_pool", pool_chrono),
            ):
                cases.append(
                    make_case("worker_pool", backend, label, fn, size["pool"], size["pool"])
                )
        if "batcher" in workloads:
            requests = SUBMITTERS * size["batch"]
            for label, fn in (
                ("tickwork batcher", batch_tickwork),
                ("chrono-daemon batcher", batch_chrono),
            ):
                cases.append(make_case("batcher", backend, label, fn, size["batch"], requests))
    if skip_peer:
        cases = [c for c in cases if not c.contender.startswith("chrono-daemon")]
    round_robin(cases, options.reps, options.warmup)

    rates: dict[tuple[str, str], float] = {}
    for backend in options.backends:
        print(f"## {backend}")
        print()
        rows: list[list[str]] = []
        for group in groups:
            members = [c for c in cases if c.group == f"{backend} {group}"]
            base = members[0].median("rate")
            for case in members:
                rate = case.median("rate")
                rates[case.group, case.contender] = rate
                rows.append(
                    [
                        group,
                        case.contender,
                        fmt_rate(rate) + "/s",
                        fmt_spread(case.spread("rate")),
                        fmt_ratio(base / rate),
                    ]
                )
        print_table(["workload", "contender", "rate", "spread", "ratio tickwork/this"], rows)

    print("## Targets")
    print()
    for backend in options.backends:
        if "tee" in workloads:
            for maxsize in TEE_MAXSIZES:
                group = f"{backend} tee maxsize={maxsize}"
                ours = rates[group, "tickwork tee"]
                for other, need in (("chrono-daemon tee", 2.0), ("sequential loop", 1.0)):
                    if (group, other) not in rates:
                        continue
                    ratio = ours / rates[group, other]
                    verdict = "MET" if ratio >= need else "NOT MET"
                    print(f"- {group}: tee >= {need:.1f}x {other}: {ratio:.2f}x -> {verdict}")
        for group, ours, other in (
            ("worker_pool", "tickwork worker_pool", "chrono-daemon worker_pool"),
            ("batcher", "tickwork batcher", "chrono-daemon batcher"),
        ):
            key = f"{backend} {group}"
            if (key, ours) in rates and (key, other) in rates:
                ratio = rates[key, ours] / rates[key, other]
                print(f"- {key}: tickwork / chrono-daemon = {ratio:.2f}x")
    print()


if __name__ == "__main__":
    main()
