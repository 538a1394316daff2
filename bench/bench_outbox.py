"""Outbox throughput: steady-state messages/s and catch-up rate after a 10,000-message outage.

    uv run --frozen python bench/bench_outbox.py            # full run
    uv run --frozen python bench/bench_outbox.py --quick    # smaller counts, same shape

What is measured (wall time, ``time.perf_counter``), on asyncio and trio:

* steady state: one producer sends N messages into an Outbox whose ``post`` is a no-op
  coroutine; from the first send to the delivery daemon returning (after ``aclose``).
  Reported for the default ``batch_size=100`` and for ``batch_size=1`` (one post per
  message, the worst case).
* catch-up: the peer is down while 10,000 messages are accepted; then it comes back
  and the Outbox replays the backlog in batches of 100 (no-op post). Timed from
  RECONNECTING to RECONNECTED (state callbacks), so the backoff wait is not counted.

Each figure is the median of ``--reps`` runs (default 7; the machine is shared and
noisy), with min and max. Nothing here sleeps in real time.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio

import tickwork
from tickwork import Context, Supervisor, WallClock
from tickwork.network import Backoff, Outbox, OutboxChange, OutboxState, Sequenced

Backend = Literal["asyncio", "trio"]
BACKENDS: tuple[Backend, ...] = ("asyncio", "trio")


async def noop_post(batch: list[Sequenced[int]]) -> None:
    return None


async def steady_state(n: int, batch_size: int) -> float:
    """Seconds to push ``n`` messages through an Outbox with a no-op post."""
    box: Outbox[int] = Outbox(noop_post, batch_size=batch_size, maxsize=10_000)
    started = 0.0

    async def producer(ctx: Context) -> None:
        nonlocal started
        started = time.perf_counter()
        for i in range(n):
            await box.send(i)
        await box.aclose()

    async with Supervisor(clock=WallClock()) as sup:
        sup.add(box)
        sup.spawn(producer)
    elapsed = time.perf_counter() - started
    assert box.delivered == n, (box.delivered, n)
    return elapsed


async def catch_up(n: int) -> float:
    """Seconds from RECONNECTING to RECONNECTED with ``n`` messages buffered (WallClock)."""
    up = False
    marks: dict[OutboxState, float] = {}
    filled = anyio.Event()

    async def post(batch: list[Sequenced[int]]) -> None:
        if not up:
            raise ConnectionError("peer down")

    async def on_state(change: OutboxChange) -> None:
        if filled.is_set():
            marks.setdefault(change.new, time.perf_counter())

    box: Outbox[int] = Outbox(
        post,
        maxsize=n,
        batch_size=100,
        on_state=on_state,
        # Retries every 50 ms of real time; the wait itself is outside the timed span.
        backoff=Backoff(min=0.05, max=0.05, jitter=0.0),
    )
    async with Supervisor(clock=WallClock()) as sup:
        sup.add(box)
        for i in range(n):
            await box.send(i)
        up = True
        filled.set()
        await box.aclose()  # the daemon returns once the backlog is delivered
    assert box.delivered == n, (box.delivered, n)
    return marks[OutboxState.RECONNECTED] - marks[OutboxState.RECONNECTING]


def measure(
    backend: Backend, reps: int, fn: Callable[..., Awaitable[float]], *args: int
) -> list[float]:
    return [anyio.run(fn, *args, backend=backend) for _ in range(reps)]


def row(label: str, backend: Backend, n: int, times: list[float]) -> str:
    rates = sorted(n / t for t in times)
    med = statistics.median(rates)
    return (
        f"| {label} | {backend} | {n:,} | {med:,.0f} | {rates[0]:,.0f} | {rates[-1]:,.0f} | "
        f"{statistics.median(times) * 1e3:.1f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller message counts")
    parser.add_argument("--reps", type=int, default=7, help="repetitions per figure (>= 5)")
    parser.add_argument("--versions", action="store_true", help="print versions and exit")
    args = parser.parse_args()
    logging.getLogger("tickwork").setLevel(logging.ERROR)  # the outage warnings are expected
    import trio

    versions = (
        f"Python {platform.python_version()}, anyio {anyio_version()}, trio {trio.__version__}, "
        f"tickwork {tickwork.__version__}, {platform.machine()} {platform.system()}"
    )
    print(versions)
    if args.versions:
        return 0
    if args.reps < 5:
        parser.error("--reps must be >= 5 (medians of fewer runs are noise here)")
    steady_n = 20_000 if args.quick else 200_000
    backlog = 10_000
    print()
    print("| scenario | backend | messages | median msg/s | min msg/s | max msg/s | median ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for backend in BACKENDS:
        anyio.run(steady_state, 1000, 100, backend=backend)  # warm-up: imports, caches
        for batch in (100, 1):
            n = steady_n if batch == 100 else steady_n // 4
            times = measure(backend, args.reps, steady_state, n, batch)
            print(row(f"steady state, batch_size={batch}", backend, n, times), flush=True)
        times = measure(backend, args.reps, catch_up, backlog)
        print(row("catch-up after outage", backend, backlog, times), flush=True)
    return 0


def anyio_version() -> str:
    from importlib.metadata import version

    return version("anyio")


if __name__ == "__main__":
    sys.exit(main())
