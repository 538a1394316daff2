"""SimClock wake throughput: N sleepers looping on ``sleep(0.01)``, driven by ``advance(1.0)``.

Each of N tasks runs ``while True: await clock.sleep(0.01); wakes += 1``. After every
task is parked on the clock, the driver times K calls of ``await clock.advance(1.0)``.
wakes/s = the wakes counted during those K advances / their wall time. The wakes are
counted, not assumed: the peer keeps float time, so ``advance(1.0)`` gives a
``sleep(0.01)`` loop 99 wakes, not 100 (SPEC section 1, SimClock guarantee 5).

Two hostings, each for tickwork and chrono-daemon (the peer):

* ``bare``: the sleepers are plain tasks in an anyio task group;
* ``supervisor``: the sleepers are ``@daemon`` functions added to ``Supervisor(clock=...)``
  and sleep on ``ctx.clock``.

K is chosen so every configuration does about the same number of wakes. The single
sleeper (N=1) row is also shown as microseconds per wake: with nothing else to run, it
is the clock's own overhead for one wake (settle + wake + the task's re-registration).

Run: ``uv run --frozen --group bench python bench/bench_simclock.py [--quick]``;
``--versus`` runs only the section against looptime and MockClock (issue 8).
"""

# chrono-daemon lives in the `bench` dependency group only; `make test` type-checks
# this file without it installed.
# pyright: reportMissingImports=false

from __future__ import annotations

import cProfile
import itertools
import math
import os
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
import chrono_daemon

import tickwork
from _harness import (
    Case,
    Options,
    fmt_rate,
    fmt_ratio,
    fmt_spread,
    forget_loggers,
    now,
    parse_args,
    print_header,
    print_table,
    round_robin,
)

SLEEPERS = (1, 100, 1_000)
PERIOD = 0.01

_names = itertools.count()


class Counter:
    __slots__ = ("wakes",)

    def __init__(self) -> None:
        self.wakes = 0


Runner = Callable[[int, float, int], Awaitable[tuple[int, float]]]


async def _timed_advances(
    advance: Callable[[float], Awaitable[None]], counter: Counter, step: float, k: int
) -> tuple[int, float]:
    before = counter.wakes
    start = now()
    for _ in range(k):
        await advance(step)
    elapsed = now() - start
    return counter.wakes - before, elapsed


# -- tickwork -------------------------------------------------------------------------


async def tickwork_bare(n: int, step: float, k: int) -> tuple[int, float]:
    clock = tickwork.SimClock()
    counter = Counter()
    result = (0, 0.0)

    async def sleeper() -> None:
        while True:
            await clock.sleep(PERIOD)
            counter.wakes += 1

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(sleeper)
        await clock.run_until_idle()
        if clock.pending != n:
            raise AssertionError(f"tickwork: {clock.pending} of {n} sleepers parked")
        result = await _timed_advances(clock.advance, counter, step, k)
        tg.cancel_scope.cancel()
    return result


@tickwork.daemon
async def tickwork_sleeper(ctx: tickwork.Context, counter: Counter) -> None:
    clock = ctx.clock
    while True:
        await clock.sleep(PERIOD)
        counter.wakes += 1


async def tickwork_supervised(n: int, step: float, k: int) -> tuple[int, float]:
    clock = tickwork.SimClock()
    counter = Counter()
    prefix = f"s{next(_names)}-"
    result = (0, 0.0)
    async with tickwork.Supervisor(clock=clock) as sup:
        for i in range(n):
            sup.add(tickwork_sleeper(counter), name=f"{prefix}{i}")
        await sup.wait_all_started()
        await clock.run_until_idle()
        if clock.pending != n:
            raise AssertionError(f"tickwork supervisor: {clock.pending} of {n} sleepers parked")
        result = await _timed_advances(clock.advance, counter, step, k)
        await sup.stop(grace=0)
    return result


# -- chrono-daemon (the peer) -----------------------------------------------------------


async def chrono_bare(n: int, step: float, k: int) -> tuple[int, float]:
    clock = chrono_daemon.SimClock()
    counter = Counter()
    result = (0, 0.0)

    async def sleeper() -> None:
        while True:
            await clock.sleep(PERIOD)
            counter.wakes += 1

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(sleeper)
        # The peer has no run_until_idle; advance(0) runs its settle rounds.
        await clock.advance(0)
        result = await _timed_advances(clock.advance, counter, step, k)
        tg.cancel_scope.cancel()
    return result


@chrono_daemon.daemon
async def chrono_sleeper(ctx: chrono_daemon.Context, counter: Counter) -> None:
    clock = ctx.clock
    while True:
        await clock.sleep(PERIOD)
        counter.wakes += 1


async def chrono_supervised(n: int, step: float, k: int) -> tuple[int, float]:
    clock = chrono_daemon.SimClock()
    counter = Counter()
    prefix = f"c{next(_names)}-"
    result = (0, 0.0)
    async with chrono_daemon.Supervisor(clock=clock) as sup:
        for i in range(n):
            # Any: without the bench group installed the decorator is unknown to pyright.
            sup.add(cast(Any, chrono_sleeper)(counter), name=f"{prefix}{i}")
        await sup.wait_all_started()
        await clock.advance(0)
        result = await _timed_advances(clock.advance, counter, step, k)
        await sup.stop(grace=0)
    return result


async def checkpoint_floor(count: int) -> float:
    """Seconds per bare ``anyio.lowlevel.checkpoint()``: one pass of the event loop."""
    start = now()
    for _ in range(count):
        await anyio.lowlevel.checkpoint()
    return (now() - start) / count


def floor_case(backend: str, count: int) -> Case:
    def run() -> dict[str, float]:
        return {"seconds": anyio.run(checkpoint_floor, count, backend=backend)}

    return Case(group=f"{backend} floor", backend=backend, contender="checkpoint", run=run)


CONTENDERS: tuple[tuple[str, str, Runner], ...] = (
    ("bare", "tickwork", tickwork_bare),
    ("bare", "chrono-daemon", chrono_bare),
    ("supervisor", "tickwork", tickwork_supervised),
    ("supervisor", "chrono-daemon", chrono_supervised),
)


def plan(options: Options, n: int) -> tuple[float, int]:
    """(step, K) per repetition: ``advance(step)`` K times, about the same wakes for every N.

    Full runs always use ``advance(1.0)``; N=1,000 then does one advance (100,000
    wakes). Quick runs shrink the step for N=1,000 to stay a smoke test.
    """
    budget = 10_000 if options.quick else 30_000
    per_second = round(1.0 / PERIOD)
    step = min(1.0, budget / (n * per_second)) if options.quick else 1.0
    k = max(1, round(budget / (n * per_second * step)))
    return step, k


def make_case(
    backend: str, hosting: str, label: str, fn: Runner, n: int, step: float, k: int
) -> Case:
    expected = n * k * round(step / PERIOD)

    def run() -> dict[str, float]:
        wakes, elapsed = anyio.run(fn, n, step, k, backend=backend)
        forget_loggers("chrono_daemon.")
        if wakes < expected * 0.9:
            raise AssertionError(f"{label} {hosting} N={n}: only {wakes} wakes in {k} advances")
        return {"rate": wakes / elapsed, "wakes": wakes, "seconds": elapsed}

    return Case(group=f"{backend} {hosting} {n}", backend=backend, contender=label, run=run)


def main() -> None:
    options = parse_args(__doc__ or "")
    print_header(
        "SimClock wakes per second (N sleepers loop on sleep(0.01); driver times advance(1.0) x K)",
        options,
        [
            "wakes/s: median over reps, higher is better. "
            "ratio = tickwork wakes/s / this row's wakes/s, median of per-round pairs "
            "(> 1: tickwork faster).",
            "advances per rep: "
            + ", ".join(
                "N={}: {} x advance({})".format(n, *reversed(plan(options, n))) for n in SLEEPERS
            ),
        ],
    )
    cases: list[Case] = []
    floors = {b: floor_case(b, 2_000 if options.quick else 20_000) for b in options.backends}
    for backend in options.backends:
        cases.append(floors[backend])
        for n in SLEEPERS:
            step, k = plan(options, n)
            for hosting, label, fn in CONTENDERS:
                cases.append(make_case(backend, hosting, label, fn, n, step, k))
    round_robin(cases, options.reps, options.warmup)

    rates: dict[tuple[str, str, int, str], float] = {}
    ratios: dict[tuple[str, str, int, str], float] = {}  # paired, tickwork/contender
    for backend in options.backends:
        print(f"## {backend}")
        print()
        floor_us = floors[backend].median("seconds") * 1e6
        print(
            f"One event-loop pass (a bare anyio checkpoint) on {backend}: {floor_us:.1f} µs "
            f"({fmt_spread(floors[backend].spread('seconds'))}); 'passes/wake' = µs/wake / that."
        )
        print()
        rows: list[list[str]] = []
        for hosting in ("bare", "supervisor"):
            for n in SLEEPERS:
                group = [c for c in cases if c.group == f"{backend} {hosting} {n}"]
                tw = next(c for c in group if c.contender == "tickwork")
                for case in group:
                    rate = case.median("rate")
                    rates[backend, hosting, n, case.contender] = rate
                    ratios[backend, hosting, n, case.contender] = tw.paired_ratio(case, "rate")
                    rows.append(
                        [
                            hosting,
                            f"{n:,}",
                            case.contender,
                            f"{case.median('wakes'):,.0f}",
                            fmt_rate(rate),
                            f"{1e6 / rate:.1f}",
                            f"{1e6 / rate / floor_us:.1f}",
                            fmt_spread(case.spread("rate")),
                            fmt_ratio(ratios[backend, hosting, n, case.contender]),
                        ]
                    )
        print_table(
            [
                "hosting",
                "sleepers",
                "contender",
                "wakes/rep",
                "wakes/s",
                "µs/wake",
                "passes/wake",
                "spread",
                "ratio tickwork/this",
            ],
            rows,
        )

    print("## Targets")
    print()
    for backend, need in (("asyncio", 10.0), ("trio", 5.0)):
        if backend not in options.backends:
            continue
        for hosting in ("bare", "supervisor"):
            for n in SLEEPERS:
                ratio = ratios[backend, hosting, n, "chrono-daemon"]
                verdict = "MET" if ratio >= need else "NOT MET"
                print(
                    f"- {backend} {hosting} N={n:,}: >= {need:.0f}x the peer: "
                    f"{ratio:.2f}x -> {verdict}"
                )
    for backend in options.backends:
        for hosting in ("bare", "supervisor"):
            micros = 1e6 / rates[backend, hosting, 1, "tickwork"]
            verdict = "MET" if micros < 1000 else "NOT MET"
            print(
                f"- {backend} {hosting} single sleeper well under 1 ms/wake: "
                f"{micros:.1f} µs/wake -> {verdict}"
            )
    print()
    versus(options)


# -- versus the tools a user would pick instead (issue 8) -------------------------------
#
# Two workloads, each for VIRTUAL seconds of virtual time: SAME_N sleepers looping on
# sleep(0.01) (same-instant batches) and DISTINCT_N sleepers with periods spread over
# 0.01-0.02 s (no two deadlines equal). Contenders: tickwork detached (advance) and
# attached (autojump, clock.sleep), looptime (asyncio), trio's MockClock
# (autojump_threshold=0), and chrono-daemon (detached, advance). The contenders run
# interleaved (round_robin), REPS rounds after a warm-up; the ratios are paired per
# round. "passes/wake" comes from one separate, profiled run of COUNT_VIRTUAL seconds
# per contender: event-loop iterations (asyncio: BaseEventLoop._run_once calls; trio:
# scheduler batches, one I/O-manager get_events call each) divided by the wakes.

SAME_N = 1_000
DISTINCT_N = 100
VIRTUAL = 1.0
COUNT_VIRTUAL = 0.1
REPS = 3

# (function name, file name ending) of the one call per event-loop iteration.
LOOP_PASS = {
    "asyncio": ("_run_once", "base_events.py"),
    "trio": ("get_events", ".py"),
}


def _periods(kind: str) -> list[float]:
    if kind == "same":
        return [PERIOD] * SAME_N
    return [PERIOD + PERIOD * i / DISTINCT_N for i in range(DISTINCT_N)]


def _sleepers(
    tg: anyio.abc.TaskGroup, sleep: Callable[[float], Awaitable[object]], kind: str
) -> Counter:
    counter = Counter()

    async def sleeper(period: float) -> None:
        while True:
            await sleep(period)
            counter.wakes += 1

    for period in _periods(kind):
        tg.start_soon(sleeper, period)
    return counter


async def _timed(
    kind: str,
    sleep: Callable[[float], Awaitable[object]],
    settle: Callable[[], Awaitable[object]],
    drive: Callable[[], Awaitable[object]],
) -> tuple[int, float]:
    """Start the sleepers, ``settle`` them, then time ``drive``: (wakes, wall seconds)."""
    result = (0, 0.0)
    async with anyio.create_task_group() as tg:
        counter = _sleepers(tg, sleep, kind)
        await settle()
        start = now()
        await drive()
        elapsed = now() - start
        result = (counter.wakes, elapsed)
        tg.cancel_scope.cancel()
    return result


def _tickwork_detached(backend: str, kind: str, virtual: float) -> tuple[int, float]:
    async def main() -> tuple[int, float]:
        clock = tickwork.SimClock()
        return await _timed(
            kind, clock.sleep, clock.run_until_idle, partial(clock.advance, virtual)
        )

    return anyio.run(main, backend=backend)


def _tickwork_attached(backend: str, kind: str, virtual: float) -> tuple[int, float]:
    clock = tickwork.SimClock(autojump=True)

    async def main() -> tuple[int, float]:
        return await _timed(kind, clock.sleep, clock.run_until_idle, partial(clock.sleep, virtual))

    return clock.run(main, backend=backend)


def _chrono(backend: str, kind: str, virtual: float) -> tuple[int, float]:
    async def main() -> tuple[int, float]:
        clock = chrono_daemon.SimClock()
        return await _timed(
            kind, clock.sleep, partial(clock.advance, 0), partial(clock.advance, virtual)
        )

    return anyio.run(main, backend=backend)


def _looptime(backend: str, kind: str, virtual: float) -> tuple[int, float]:
    import asyncio

    import looptime

    async def main() -> tuple[int, float]:
        return await _timed(
            kind, asyncio.sleep, partial(asyncio.sleep, 0), partial(asyncio.sleep, virtual)
        )

    options = {"loop_factory": lambda: looptime.new_event_loop(start=0)}
    return anyio.run(main, backend=backend, backend_options=options)


def _mockclock(backend: str, kind: str, virtual: float) -> tuple[int, float]:
    import trio
    import trio.testing

    async def main() -> tuple[int, float]:
        return await _timed(
            kind, trio.sleep, trio.testing.wait_all_tasks_blocked, partial(trio.sleep, virtual)
        )

    options = {"clock": trio.testing.MockClock(autojump_threshold=0)}
    return anyio.run(main, backend=backend, backend_options=options)


VersusRunner = Callable[[str, str, float], tuple[int, float]]
VERSUS: tuple[tuple[str, str, VersusRunner], ...] = (
    ("asyncio", "tickwork detached", _tickwork_detached),
    ("asyncio", "tickwork attached", _tickwork_attached),
    ("asyncio", "looptime", _looptime),
    ("asyncio", "chrono-daemon", _chrono),
    ("trio", "tickwork detached", _tickwork_detached),
    ("trio", "tickwork attached", _tickwork_attached),
    ("trio", "MockClock", _mockclock),
    ("trio", "chrono-daemon", _chrono),
)
TARGETS = {
    ("same", "asyncio"): ("looptime", 1.0),
    ("distinct", "asyncio"): ("looptime", 10.0),
    ("same", "trio"): ("MockClock", 2.0),
    ("distinct", "trio"): ("MockClock", 2.0),
}


def passes_per_wake(fn: VersusRunner, backend: str, kind: str) -> float:
    """Event-loop iterations per wake, counted in one profiled COUNT_VIRTUAL run."""
    profile = cProfile.Profile()
    wakes, _ = profile.runcall(fn, backend, kind, COUNT_VIRTUAL)
    name, suffix = LOOP_PASS[backend]
    passes = 0
    for entry in profile.getstats():
        code = getattr(entry, "code", None)
        if getattr(code, "co_name", None) == name and str(
            getattr(code, "co_filename", "")
        ).endswith(suffix):
            passes += int(getattr(entry, "callcount", 0))
    return passes / wakes if wakes else math.nan


def _versus_case(backend: str, kind: str, name: str, fn: VersusRunner) -> Case:
    def run() -> dict[str, float]:
        wakes, elapsed = fn(backend, kind, VIRTUAL)
        forget_loggers("chrono_daemon.")
        return {"rate": wakes / elapsed, "wakes": wakes}

    return Case(group=f"{kind} {backend}", backend=backend, contender=name, run=run)


def versus(options: Options) -> None:
    """Wakes per wall second against looptime and MockClock: interleaved, REPS medians."""
    print("## Versus looptime and MockClock")
    print()
    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average, {os.cpu_count()} cores)")
    cases = {
        (kind, backend, name): _versus_case(backend, kind, name, fn)
        for kind in ("same", "distinct")
        for backend, name, fn in VERSUS
        if backend in options.backends
    }
    round_robin(list(cases.values()), REPS, 1)
    passes = {
        (kind, backend, name): passes_per_wake(fn, backend, kind)
        for kind in ("same", "distinct")
        for backend, name, fn in VERSUS
        if backend in options.backends
    }
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print()
    rows = [
        [
            kind,
            backend,
            name,
            f"{case.median('wakes'):,.0f}",
            fmt_rate(case.median("rate")),
            fmt_spread(case.spread("rate")),
            f"{passes[kind, backend, name]:.3f}",
        ]
        for (kind, backend, name), case in cases.items()
    ]
    print_table(
        ["workload", "backend", "contender", "wakes", "wakes/s", "spread", "passes/wake"], rows
    )
    print()
    for (kind, backend), (rival, need) in TARGETS.items():
        if backend not in options.backends:
            continue
        other = cases[kind, backend, rival]
        for mode in ("detached", "attached"):
            ratio = cases[kind, backend, f"tickwork {mode}"].paired_ratio(other, "rate")
            verdict = "MET" if ratio >= need else "NOT MET"
            print(f"- {kind} {backend} {mode}: >= {need:g}x {rival}: {ratio:.2f}x -> {verdict}")
        attached = cases[kind, backend, "tickwork attached"]
        speed = attached.paired_ratio(cases[kind, backend, "tickwork detached"], "rate")
        verdict = "MET" if speed >= 1.0 else "NOT MET"
        print(f"- {kind} {backend}: attached vs detached: {speed:.2f}x -> {verdict}")
    print()


def versus_main() -> None:
    """Only the Versus section: ``python bench/bench_simclock.py --versus``."""
    options = parse_args(__doc__ or "", [a for a in sys.argv[1:] if a != "--versus"])
    print_header("SimClock versus looptime and MockClock", options)
    versus(options)


if __name__ == "__main__":
    if "--versus" in sys.argv:
        versus_main()
    else:
        main()
