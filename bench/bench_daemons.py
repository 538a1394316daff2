"""Start and stop 10,000 idle daemons; memory per daemon.

Every daemon does only ``await ctx.stop_event.wait()``. Measured per backend:

* start: from entering the host (``async with Supervisor()``, or the task group) and
  adding the daemons until the host reports all of them started
  (``await sup.wait_all_started()``);
* stop: from asking them to stop (``await sup.stop()``) until the ``async with`` has
  exited (every task joined);
* memory: Python heap growth per daemon (``tracemalloc``) at the moment all are
  started, and the peak during start-up. Measured in separate runs, because tracing
  slows everything down; the timed runs do not trace.

Contenders:

* ``tickwork``: ``tickwork.Supervisor()`` (default WallClock) hosting ``@tickwork.daemon``s;
* ``raw anyio``: ``anyio.create_task_group()`` with N plain tasks that wait on one
  ``anyio.Event``. "Started" is the cheapest honest barrier: each task bumps a counter
  and the last one sets a second event, which the host awaits. Stop = set the event and
  leave the task group. This is the floor a supervisor adds its bookkeeping to;
* ``chrono-daemon``: the peer's ``Supervisor`` hosting its ``@daemon``s.

Also the cost of one restart under each strategy: 100 idle siblings and one daemon
in the middle (added 51st) that fails on demand, ``on_error="restart"`` with a zero
backoff; time from the failure until every daemon the strategy restarts has begun
``on_start`` again (1, 51 or 101 daemons), median over ``RESTARTS`` restarts.

Daemon names are unique per run (the peer registers each daemon's logger with the
``logging`` module forever, so reusing names would make later repetitions cheaper than
a real fresh start).

Run: ``uv run --frozen --group bench python bench/bench_daemons.py [--quick]``.
"""

# chrono-daemon lives in the `bench` dependency group only; `make test` type-checks
# this file without it installed.
# pyright: reportMissingImports=false

from __future__ import annotations

import gc
import itertools
import logging
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any, cast

import anyio
import chrono_daemon

import tickwork
from _harness import (
    Case,
    Options,
    fmt_ratio,
    fmt_seconds,
    fmt_spread,
    forget_loggers,
    now,
    parse_args,
    print_header,
    print_table,
)
from _harness import (
    round_robin as run_round_robin,
)

Probe = Callable[[str], None]
Runner = Callable[[int, Probe], Awaitable[tuple[float, float]]]

_runs = itertools.count()


def no_probe(_: str) -> None:
    return None


@tickwork.daemon
async def tickwork_idle(ctx: tickwork.Context) -> None:
    await ctx.stop_event.wait()


@chrono_daemon.daemon
async def chrono_idle(ctx: chrono_daemon.Context) -> None:
    await ctx.stop_event.wait()


async def run_tickwork(n: int, probe: Probe) -> tuple[float, float]:
    prefix = f"t{next(_runs)}-"
    probe("base")
    start = started = now()
    async with tickwork.Supervisor() as sup:
        for i in range(n):
            sup.add(tickwork_idle(), name=f"{prefix}{i}")
        await sup.wait_all_started()
        started = now()
        probe("started")
        await sup.stop()
    stopped = now()
    return started - start, stopped - started


async def run_raw(n: int, probe: Probe) -> tuple[float, float]:
    stop_event = anyio.Event()
    all_started = anyio.Event()
    count = 0

    async def idle() -> None:
        nonlocal count
        count += 1
        if count == n:
            all_started.set()
        await stop_event.wait()

    probe("base")
    start = started = now()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(idle)
        await all_started.wait()
        started = now()
        probe("started")
        stop_event.set()
    stopped = now()
    return started - start, stopped - started


async def run_chrono(n: int, probe: Probe) -> tuple[float, float]:
    prefix = f"c{next(_runs)}-"
    probe("base")
    start = started = now()
    async with chrono_daemon.Supervisor() as sup:
        for i in range(n):
            # Any: without the bench group installed the decorator is unknown to pyright.
            sup.add(cast(Any, chrono_idle)(), name=f"{prefix}{i}")
        await sup.wait_all_started()
        started = now()
        probe("started")
        await sup.stop()
    stopped = now()
    return started - start, stopped - started


CONTENDERS: tuple[tuple[str, Runner], ...] = (
    ("tickwork", run_tickwork),
    ("raw anyio", run_raw),
    ("chrono-daemon", run_chrono),
)


class MemoryProbe:
    """Records tracemalloc's current size at "base" and "started", and the peak between."""

    def __init__(self) -> None:
        self.base = 0
        self.started = 0
        self.peak = 0

    def __call__(self, label: str) -> None:
        if label == "base":
            gc.collect()
            tracemalloc.reset_peak()
            self.base = tracemalloc.get_traced_memory()[0]
        else:
            current, peak = tracemalloc.get_traced_memory()
            self.started, self.peak = current, peak


def timing_case(backend: str, label: str, fn: Runner, n: int) -> Case:
    def run() -> dict[str, float]:
        start, stop = anyio.run(fn, n, no_probe, backend=backend)
        forget_loggers("chrono_daemon.")
        return {"start": start, "stop": stop}

    return Case(group=f"time {backend}", backend=backend, contender=label, run=run)


def memory_case(backend: str, label: str, fn: Runner, n: int) -> Case:
    def run() -> dict[str, float]:
        probe = MemoryProbe()
        tracemalloc.start()
        try:
            anyio.run(fn, n, probe, backend=backend)
        finally:
            tracemalloc.stop()
            forget_loggers("chrono_daemon.")
        return {
            "live": (probe.started - probe.base) / n,
            "peak": (probe.peak - probe.base) / n,
        }

    return Case(group=f"memory {backend}", backend=backend, contender=label, run=run)


SIBLINGS = 100
RESTARTS = 50
STRATEGIES: tuple[tickwork.Strategy, ...] = ("one_for_one", "rest_for_one", "one_for_all")


class _Restarts:
    """Counts ``on_start`` calls; ``done`` is set when ``expected`` of them happened."""

    def __init__(self) -> None:
        self.expected = 0
        self.count = 0
        self.done = anyio.Event()
        self.fail = anyio.Event()

    def arm(self, expected: int) -> None:
        self.expected, self.count = expected, 0
        self.done = anyio.Event()


class _Sibling(tickwork.Daemon):
    def __init__(self, name: str, restarts: _Restarts) -> None:
        self.name = name
        self.restarts = restarts

    async def on_start(self, ctx: tickwork.Context) -> None:
        r = self.restarts
        r.count += 1
        if r.count == r.expected:
            r.done.set()

    async def run(self, ctx: tickwork.Context) -> None:
        await ctx.stop_event.wait()


class _Trigger(_Sibling):
    async def run(self, ctx: tickwork.Context) -> None:
        fail = self.restarts.fail
        await fail.wait()
        raise RuntimeError("restart me")


async def run_restarts(strategy: tickwork.Strategy) -> float:
    """Median seconds for one restart under ``strategy`` with SIBLINGS siblings."""
    restarts = _Restarts()
    zero = tickwork.RestartPolicy(base=0.0, cap=0.0)
    affected = {"one_for_one": 1, "rest_for_one": SIBLINGS // 2 + 1, "one_for_all": SIBLINGS + 1}
    samples: list[float] = []
    # Restarts log a warning each; measure the supervisor, not a terminal handler.
    logging.getLogger("tickwork").setLevel(logging.ERROR)
    async with tickwork.Supervisor(on_error="restart", restart=zero, strategy=strategy) as sup:
        for i in range(SIBLINGS + 1):
            kind = _Trigger if i == SIBLINGS // 2 else _Sibling
            sup.add(kind(f"d{i}", restarts))
        await sup.wait_all_started()
        for _ in range(RESTARTS):
            restarts.arm(affected[strategy])
            fail, restarts.fail = restarts.fail, anyio.Event()
            start = now()
            fail.set()
            await restarts.done.wait()
            samples.append(now() - start)
        await sup.stop(grace=0.0)  # the trigger waits for a failure that never comes
    samples.sort()
    return samples[len(samples) // 2]


def print_restarts(backends: list[str]) -> None:
    print(f"## One restart with {SIBLINGS} siblings (median of {RESTARTS})")
    print()
    rows = [
        [backend, strategy, fmt_seconds(anyio.run(run_restarts, strategy, backend=backend))]
        for backend in backends
        for strategy in STRATEGIES
    ]
    print_table(["backend", "strategy", "one restart"], rows)
    print()


def main() -> None:
    options: Options = parse_args(__doc__ or "")
    n = 2_000 if options.quick else 10_000
    mem_reps = 1 if options.quick else 3
    print_header(
        f"{n:,} idle daemons: start, stop, memory",
        options,
        [
            "times: median over reps, lower is better. "
            "ratio = tickwork time / this row's time, median of per-round pairs "
            "(< 1: tickwork faster; target <= 1.3x raw).",
            f"memory: tracemalloc, separate runs ({mem_reps} reps, median), bytes per daemon.",
        ],
    )
    timing = [
        timing_case(backend, label, fn, n)
        for backend in options.backends
        for label, fn in CONTENDERS
    ]
    run_round_robin(timing, options.reps, options.warmup)
    memory = [
        memory_case(backend, label, fn, n)
        for backend in options.backends
        for label, fn in CONTENDERS
    ]
    run_round_robin(memory, mem_reps, warmup=0)

    verdicts: list[str] = []
    for backend in options.backends:
        print(f"## {backend}")
        print()
        group = [c for c in timing if c.backend == backend]
        mem = {c.contender: c for c in memory if c.backend == backend}
        tw = next(c for c in group if c.contender == "tickwork")
        rows: list[list[str]] = []
        for case in group:
            m = mem[case.contender]
            rows.append(
                [
                    case.contender,
                    fmt_seconds(case.median("start")),
                    fmt_spread(case.spread("start")),
                    fmt_ratio(tw.paired_ratio(case, "start")),
                    fmt_seconds(case.median("stop")),
                    fmt_spread(case.spread("stop")),
                    fmt_ratio(tw.paired_ratio(case, "stop")),
                    f"{m.median('live') / 1024:.2f}",
                    f"{m.median('peak') / 1024:.2f}",
                ]
            )
        print_table(
            [
                "contender",
                "start",
                "spread",
                "start ratio tickwork/this",
                "stop",
                "spread",
                "stop ratio tickwork/this",
                "KB/daemon live",
                "KB/daemon peak",
            ],
            rows,
        )
        raw = next(c for c in group if c.contender == "raw anyio")
        ratio = tw.paired_ratio(raw, "start")
        verdicts.append(
            f"- {backend}: start <= 1.3x raw anyio: {ratio:.2f}x -> "
            + ("MET" if ratio <= 1.3 else "NOT MET")
        )
        live_kb = mem["tickwork"].median("live") / 1024
        verdicts.append(
            f"- {backend}: <= 5 KB per daemon: {live_kb:.2f} KB live -> "
            + ("MET" if live_kb <= 5 else "NOT MET")
        )
    print("## Targets")
    print()
    print("\n".join(verdicts))
    print()
    print_restarts(list(options.backends))


if __name__ == "__main__":
    main()
