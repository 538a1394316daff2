"""Channel throughput: one producer task sends N ints to one consumer task.

For each maxsize (0 = rendezvous, 1, 64, 200,000) and each backend, every contender
moves the same N ints through its own channel type:

* ``tickwork``: ``tickwork.open_channel(maxsize)``, ``send.send`` / ``recv.receive``;
* ``tickwork async-for``: the same channel drained with ``async for`` (the spelling
  most users write, one ``__anext__`` + ``StopAsyncIteration`` layer more);
* ``anyio``: raw ``anyio.create_memory_object_stream(maxsize)``;
* ``asyncio.Queue`` (asyncio only). ``asyncio.Queue(0)`` is *unbounded*, not a
  rendezvous, so the maxsize-0 row uses an honest emulation instead: ``Queue(1)``
  with ``put`` followed by ``join`` (the sender returns only once the consumer has
  taken the item and called ``task_done``). The unbounded ``Queue(0)`` is also shown,
  labelled as such, for reference;
* ``trio channel``: ``trio.open_memory_channel(maxsize)`` (trio only);
* ``chrono-daemon``: the peer library's ``open_channel(maxsize)``.

The consumer adds up what it receives and the total is checked, so every contender
really delivers every item. Time runs from starting the two tasks to joining them.

Run: ``uv run --frozen --group bench python bench/bench_channel.py [--quick]``.
"""

# chrono-daemon lives in the `bench` dependency group only; `make test` type-checks
# this file without it installed.
# pyright: reportMissingImports=false

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import chrono_daemon
import trio

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

MAXSIZES = (0, 1, 64, 200_000)

Runner = Callable[[int, int], Awaitable[float]]


def _check(total: int, n: int, who: str) -> None:
    expected = n * (n - 1) // 2
    if total != expected:
        raise AssertionError(f"{who}: consumer summed {total}, expected {expected}")


class _Sender(Protocol):
    async def send(self, item: int, /) -> None: ...


class _Receiver(Protocol):
    async def receive(self) -> int: ...


async def _timed_transfer(send: _Sender, recv: _Receiver, n: int) -> tuple[float, int]:
    """One producer sends 0..n-1, one consumer sums them; the same loop for every contender."""
    total = 0

    async def producer() -> None:
        for i in range(n):
            await send.send(i)

    async def consumer() -> None:
        nonlocal total
        for _ in range(n):
            total += await recv.receive()

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(consumer)
    return now() - start, total


async def run_tickwork(maxsize: int, n: int) -> float:
    ch: tickwork.Channel[int] = tickwork.open_channel(maxsize)
    send, recv = ch.send, ch.recv
    elapsed, total = await _timed_transfer(send, recv, n)
    await send.aclose()
    await recv.aclose()
    _check(total, n, "tickwork")
    return elapsed


async def run_tickwork_iter(maxsize: int, n: int) -> float:
    ch: tickwork.Channel[int] = tickwork.open_channel(maxsize)
    send, recv = ch.send, ch.recv
    total = 0

    async def producer() -> None:
        async with send:
            for i in range(n):
                await send.send(i)

    async def consumer() -> None:
        nonlocal total
        async for item in recv:
            total += item

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(consumer)
    elapsed = now() - start
    await recv.aclose()
    _check(total, n, "tickwork async-for")
    return elapsed


async def run_anyio(maxsize: int, n: int) -> float:
    send, recv = anyio.create_memory_object_stream[int](maxsize)
    elapsed, total = await _timed_transfer(send, recv, n)
    send.close()
    recv.close()
    _check(total, n, "anyio")
    return elapsed


async def run_asyncio_queue(maxsize: int, n: int) -> float:
    """asyncio.Queue(maxsize); for maxsize 0 a put+join rendezvous on Queue(1)."""
    rendezvous = maxsize == 0
    queue: asyncio.Queue[int] = asyncio.Queue(1 if rendezvous else maxsize)
    total = 0

    async def producer() -> None:
        if rendezvous:
            for i in range(n):
                await queue.put(i)
                await queue.join()
        else:
            for i in range(n):
                await queue.put(i)

    async def consumer() -> None:
        nonlocal total
        for _ in range(n):
            total += await queue.get()
            queue.task_done()

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(consumer)
    elapsed = now() - start
    _check(total, n, "asyncio.Queue")
    return elapsed


async def run_asyncio_queue_unbounded(maxsize: int, n: int) -> float:
    """asyncio.Queue(0): unbounded. Reference only; it is not a rendezvous."""
    del maxsize
    queue: asyncio.Queue[int] = asyncio.Queue(0)
    total = 0

    async def producer() -> None:
        for i in range(n):
            await queue.put(i)

    async def consumer() -> None:
        nonlocal total
        for _ in range(n):
            total += await queue.get()

    start = now()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(consumer)
    elapsed = now() - start
    _check(total, n, "asyncio.Queue(0)")
    return elapsed


async def run_trio_channel(maxsize: int, n: int) -> float:
    send, recv = trio.open_memory_channel[int](maxsize)
    elapsed, total = await _timed_transfer(send, recv, n)
    send.close()
    recv.close()
    _check(total, n, "trio channel")
    return elapsed


async def run_chrono(maxsize: int, n: int) -> float:
    ch: chrono_daemon.Channel[int] = chrono_daemon.open_channel(maxsize)
    send, recv = ch.send, ch.recv
    elapsed, total = await _timed_transfer(send, recv, n)
    await send.aclose()
    await recv.aclose()
    _check(total, n, "chrono-daemon")
    return elapsed


def contenders(backend: str, maxsize: int) -> list[tuple[str, Runner]]:
    out: list[tuple[str, Runner]] = [
        ("tickwork", run_tickwork),
        ("tickwork async-for", run_tickwork_iter),
        ("anyio memory stream", run_anyio),
    ]
    if backend == "asyncio":
        if maxsize == 0:
            out.append(("asyncio.Queue(1)+join (rendezvous emulation)", run_asyncio_queue))
            out.append(
                ("asyncio.Queue(0) (UNBOUNDED, not a rendezvous)", run_asyncio_queue_unbounded)
            )
        else:
            out.append(("asyncio.Queue", run_asyncio_queue))
    else:
        out.append(("trio memory channel", run_trio_channel))
    out.append(("chrono-daemon", run_chrono))
    return out


def items(options: Options, maxsize: int) -> int:
    # A rendezvous (and maxsize 1) costs two task switches per item; keep the wall time
    # per repetition comparable with the buffered rows.
    if options.quick:
        return 5_000 if maxsize <= 1 else 20_000
    return 50_000 if maxsize <= 1 else 200_000


def make_case(backend: str, maxsize: int, label: str, fn: Runner, n: int) -> Case:
    def run() -> dict[str, float]:
        elapsed = anyio.run(fn, maxsize, n, backend=backend)
        return {"seconds": elapsed, "rate": n / elapsed}

    return Case(group=f"{backend} maxsize={maxsize}", backend=backend, contender=label, run=run)


def main() -> None:
    options = parse_args(__doc__ or "")
    print_header(
        "Channel throughput (one producer, one consumer, N ints)",
        options,
        [
            "items/s: median over reps, higher is better. "
            "ratio = tickwork items/s / this row's items/s, median of per-round pairs "
            "(> 1: tickwork faster).",
            "sizes: " + ", ".join(f"maxsize {m}: N={items(options, m):,}" for m in MAXSIZES),
        ],
    )
    cases: list[Case] = []
    for backend in options.backends:
        for maxsize in MAXSIZES:
            n = items(options, maxsize)
            for label, fn in contenders(backend, maxsize):
                cases.append(make_case(backend, maxsize, label, fn, n))
    round_robin(cases, options.reps, options.warmup)

    summary: dict[tuple[str, int, str], float] = {}  # paired ratio tickwork/contender
    for backend in options.backends:
        print(f"## {backend}")
        print()
        rows: list[list[str]] = []
        for maxsize in MAXSIZES:
            group = [c for c in cases if c.group == f"{backend} maxsize={maxsize}"]
            tw = next(c for c in group if c.contender == "tickwork")
            for case in group:
                rate = case.median("rate")
                summary[backend, maxsize, case.contender] = tw.paired_ratio(case, "rate")
                rows.append(
                    [
                        str(maxsize),
                        case.contender,
                        fmt_rate(rate),
                        fmt_spread(case.spread("rate")),
                        fmt_ratio(tw.paired_ratio(case, "rate")),
                    ]
                )
        print_table(["maxsize", "contender", "items/s", "spread", "ratio tickwork/this"], rows)

    print("## Targets")
    print()
    targets: list[tuple[str, str, int, str, float]] = [
        ("buffered (64) >= 3x raw anyio on asyncio", "asyncio", 64, "anyio memory stream", 3.0),
        ("buffered (64) >= 2x trio memory channel on trio", "trio", 64, "trio memory channel", 2.0),
        ("rendezvous (0) >= 1.0x raw anyio on asyncio", "asyncio", 0, "anyio memory stream", 1.0),
        ("rendezvous (0) >= 1.0x raw anyio on trio", "trio", 0, "anyio memory stream", 1.0),
    ]
    for text, backend, maxsize, other, need in targets:
        if backend not in options.backends:
            continue
        ratio = summary[backend, maxsize, other]
        verdict = "MET" if ratio >= need else "NOT MET"
        print(f"- {text}: {ratio:.2f}x -> {verdict}")
    print()


if __name__ == "__main__":
    main()
