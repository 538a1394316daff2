"""ZeroMQ transport: two-process throughput and latency, resend-buffer memory, one-process.

    uv sync --frozen --all-extras --group bench
    uv run --group bench python bench/bench_zmq.py [--quick] [--reps N] [--versions]

Two processes (the main table): a child process sends, this process receives, over
loopback (``tcp://127.0.0.1`` or ``ipc://``); messages/s from the first item received
to the last (process start-up and connection set-up are not timed). Contenders, each
on both ends: tickwork on asyncio, tickwork on trio (everything on: sequence numbers,
the resend buffer, acknowledgements, credit, heartbeats), raw sync pyzmq PUSH/PULL
with msgspec (no reliability: the practical ceiling for Python) and raw
``zmq.asyncio`` PUSH/PULL with msgspec. ``maxsize`` is tickwork's credit window and
the raw sockets' high-water marks. Latency: one item at a time there and back.
``bench/_zmq_peers.py`` holds both sides of every two-process contender.

Resend-buffer memory: a sender with ``maxsize=math.inf`` and no receiver holds every
item; tracemalloc's heap growth per item held.

One process (the second table): producer and consumer tasks in one event loop:
tickwork vs raw pyzmq.asyncio PAIR vs chrono-daemon 0.1.1 (if installed).

The machine is noisy (a shared 2-core box), so cases are interleaved and repeated;
the tables show medians. Results are printed as Markdown tables.
"""

# chrono-daemon lives in the `bench` dependency group only; `make test` type-checks
# this file without it installed.
# pyright: reportMissingImports=false

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import math
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec
import zmq
import zmq.asyncio

from _zmq_peers import CONTENDERS as TWO_PROCESS
from _zmq_peers import PAYLOADS, WARMUP_ROUNDS, latency, throughput
from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive, open_zmq_send

Bench = Callable[[str, int, Any, Any, int], Awaitable[float]]


def free_tcp_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def address_for(transport: str, tmp: str, tag: str) -> str:
    if transport == "tcp":
        return free_tcp_address()
    return f"ipc://{tmp}/{tag}-{time.monotonic_ns()}.sock"


async def bench_tickwork(address: str, maxsize: int, item: Any, kind: Any, count: int) -> float:
    serde: MsgpackSerde[Any] = MsgpackSerde(kind)
    async with (
        open_zmq_receive(address, maxsize=maxsize, serde=serde, linger_ms=0) as rx,
        open_zmq_send(rx.endpoint, maxsize=maxsize, serde=serde) as tx,
    ):
        await tx.wait_peer()
        start = time.perf_counter()

        async def produce() -> None:
            for _ in range(count):
                await tx.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            for _ in range(count):
                await rx.receive()
        return count / (time.perf_counter() - start)


async def bench_raw(address: str, maxsize: int, item: Any, kind: Any, count: int) -> float:
    ctx = zmq.asyncio.Context()
    rx = ctx.socket(zmq.PAIR)
    tx = ctx.socket(zmq.PAIR)
    for sock in (rx, tx):
        sock.setsockopt(zmq.SNDHWM, maxsize)
        sock.setsockopt(zmq.RCVHWM, maxsize)
        sock.setsockopt(zmq.LINGER, 0)
    rx.bind(address)
    tx.connect(address)
    encode = msgspec.msgpack.Encoder().encode
    decode = msgspec.msgpack.Decoder(kind).decode
    try:
        # Same starting line as the others: the connection is up before timing.
        await tx.send(encode(item))
        decode(await rx.recv())
        start = time.perf_counter()

        async def produce() -> None:
            for _ in range(count):
                await tx.send(encode(item))

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            for _ in range(count):
                decode(await rx.recv())
        return count / (time.perf_counter() - start)
    finally:
        rx.close(0)
        tx.close(0)
        ctx.term()


async def bench_chrono(address: str, maxsize: int, item: Any, kind: Any, count: int) -> float:
    from chrono_daemon.transports import zmq as chrono_zmq

    serde = chrono_zmq.MsgpackSerde(kind)
    ctx = zmq.asyncio.Context()
    rx = chrono_zmq.open_zmq_receive(address, maxsize=maxsize, serde=serde, context=ctx)
    tx = chrono_zmq.open_zmq_send(address, maxsize=maxsize, serde=serde, context=ctx)
    try:
        await tx.send(item)
        await rx.receive()
        start = time.perf_counter()

        async def produce() -> None:
            for _ in range(count):
                await tx.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            for _ in range(count):
                await rx.receive()
        return count / (time.perf_counter() - start)
    finally:
        await tx.aclose()
        await rx.aclose()
        ctx.destroy(0)


@dataclass(frozen=True)
class Case:
    payload: str
    transport: str
    maxsize: int

    def label(self) -> str:
        return f"{self.payload}, {self.transport}, maxsize {self.maxsize}"


CONTENDERS: dict[str, tuple[Bench, tuple[str, ...]]] = {
    "tickwork": (bench_tickwork, ("asyncio", "trio")),
    "raw": (bench_raw, ("asyncio",)),
    "chrono": (bench_chrono, ("asyncio",)),
}


def measure(name: str, backend: str, case: Case, count: int, tmp: str) -> float:
    bench, _ = CONTENDERS[name]
    item, kind = PAYLOADS[case.payload]
    address = address_for(case.transport, tmp, name)
    gc.collect()

    async def run() -> float:
        with anyio.fail_after(120):
            return await bench(address, case.maxsize, item, kind, count)

    return anyio.run(run, backend=backend)


def versions() -> str:
    names = ["tickwork", "pyzmq", "msgspec", "anyio", "trio", "chrono-daemon"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"libzmq {zmq.zmq_version()}; " + ", ".join(found)
    )


Results = dict[tuple[str, str, Case], list[float]]


def print_table(results: Results, cases: list[Case]) -> None:
    def med(name: str, backend: str, case: Case) -> float | None:
        values = results.get((name, backend, case))
        return statistics.median(values) if values else None

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f}"

    def ratio(value: float | None, raw: float | None) -> str:
        return "n/a" if value is None or raw is None else f"{value / raw:.2f}x"

    print(
        "| case | tickwork asyncio | tickwork trio | raw pyzmq.asyncio | chrono 0.1.1 "
        "| tickwork asyncio / raw | tickwork trio / raw |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        ours_a, ours_t = med("tickwork", "asyncio", case), med("tickwork", "trio", case)
        raw, chrono = med("raw", "asyncio", case), med("chrono", "asyncio", case)
        print(
            f"| {case.label()} | {fmt(ours_a)} | {fmt(ours_t)} | {fmt(raw)} | {fmt(chrono)} "
            f"| {ratio(ours_a, raw)} | {ratio(ours_t, raw)} |"
        )


TwoResults = dict[tuple[str, Case], list[float]]

TWO_LABELS: dict[str, str] = {
    "tickwork-asyncio": "tickwork asyncio",
    "tickwork-trio": "tickwork trio",
    "raw-sync": "raw sync PUSH/PULL",
    "raw-asyncio": "raw zmq.asyncio",
}


def print_two_process(results: TwoResults, cases: list[Case]) -> None:
    def med(name: str, case: Case) -> float:
        values = [v for v in results[name, case] if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    heads = [TWO_LABELS[name] for name in TWO_PROCESS]
    print(
        "| case | " + " | ".join(heads) + " | asyncio / sync | trio / sync "
        "| asyncio / zmq.asyncio | trio / zmq.asyncio |"
    )
    print("|---|" + "---:|" * (len(heads) + 4))
    for case in cases:
        rates = [med(name, case) for name in TWO_PROCESS]
        ours_a, ours_t, sync, aio = rates
        ratios = [ours_a / sync, ours_t / sync, ours_a / aio, ours_t / aio]
        print(
            f"| {case.label()} | "
            + " | ".join("n/a" if math.isnan(rate) else f"{rate:,.0f}" for rate in rates)
            + " | "
            + " | ".join("n/a" if math.isnan(r) else f"{r:.2f}x" for r in ratios)
            + " |"
        )


def print_latency(samples: dict[tuple[str, str], list[float]]) -> None:
    print("| transport | " + " | ".join(f"{TWO_LABELS[n]} p50 / p99" for n in TWO_PROCESS) + " |")
    print("|---|" + "---:|" * len(TWO_PROCESS))
    for transport in ("tcp", "ipc"):
        cells: list[str] = []
        for name in TWO_PROCESS:
            times = sorted(samples[name, transport])
            if not times:
                cells.append("n/a (stalled)")
                continue
            p50 = times[len(times) // 2] * 1e6
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6
            cells.append(f"{p50:,.0f} / {p99:,.0f} µs")
        print(f"| {transport} | " + " | ".join(cells) + " |")


MEMORY_ITEMS = 100_000


def resend_buffer_bytes_per_item(payload: str) -> float:
    """Heap growth per item held by a ``maxsize=math.inf`` sender that has no receiver."""
    item, kind = PAYLOADS[payload]
    serde: MsgpackSerde[Any] = MsgpackSerde(kind)

    async def run() -> float:
        address = f"memory://bench-memory-{os.getpid()}-{time.monotonic_ns()}"
        async with open_zmq_send(address, maxsize=math.inf, serde=serde, linger_ms=0) as tx:
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                for _ in range(MEMORY_ITEMS):
                    tx.send_nowait(item)
                after = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            assert tx.transport_statistics().in_flight == MEMORY_ITEMS
            return (after - before) / MEMORY_ITEMS

    return anyio.run(run)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def run_two_process(cases: list[Case], reps: int, count: int, rounds: int, tmp: str) -> None:
    results: TwoResults = {}
    samples: dict[tuple[str, str], list[float]] = {}
    print(f"two processes, start: {load()}", file=sys.stderr)
    for rep in range(reps):
        for case in cases:
            for name in TWO_PROCESS:
                gc.collect()
                rate = throughput(name, case.transport, case.payload, case.maxsize, count, tmp)
                results.setdefault((name, case), []).append(rate)
        for transport in ("tcp", "ipc"):
            for name in TWO_PROCESS:
                times = latency(name, transport, "small dict", rounds, tmp)
                samples.setdefault((name, transport), []).extend(times)
        print(f"two processes: rep {rep + 1}/{reps} done, {load()}", file=sys.stderr)
    print(
        f"\n## Two processes: {count:,} messages per measurement, median of {reps} "
        f"interleaved reps; messages/s, larger is better ({load()} at the end).\n"
    )
    print_two_process(results, cases)
    print(
        f"\nRound trip, one small dict at a time ({rounds:,} per rep after "
        f"{WARMUP_ROUNDS} warm-up, all reps pooled):\n"
    )
    print_latency(samples)
    print("\nResend buffer (maxsize=math.inf, no receiver, 100,000 items held):\n")
    for payload in PAYLOADS:
        print(f"- {payload}: {resend_buffer_bytes_per_item(payload):,.0f} bytes per item")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and reps")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--count", type=int, default=None, help="messages per measurement")
    parser.add_argument("--versions", action="store_true", help="print versions and exit")
    parser.add_argument(
        "--backend", choices=["asyncio", "trio"], default=None, help="only this backend"
    )
    parser.add_argument(
        "--only", choices=["two-process", "one-process"], default=None, help="one part only"
    )
    args = parser.parse_args()
    print(versions())
    if args.versions:
        return 0
    reps = args.reps or (2 if args.quick else 5)
    count = args.count or (2_000 if args.quick else 20_000)
    two_count = args.count or (5_000 if args.quick else 50_000)
    rounds = 200 if args.quick else 1_000
    try:
        import chrono_daemon  # noqa: F401
    except ImportError:
        print("chrono-daemon not installed (uv sync --group bench): skipping it", file=sys.stderr)
        CONTENDERS.pop("chrono")
    cases = [
        Case(payload, transport, maxsize)
        for payload in PAYLOADS
        for transport in ("tcp", "ipc")
        for maxsize in (64, 1000)
    ]
    runs = [
        (name, backend)
        for name, (_, backends) in CONTENDERS.items()
        for backend in backends
        if args.backend is None or backend == args.backend
    ]
    with tempfile.TemporaryDirectory(prefix="twb-") as tmp:
        if args.only != "one-process":
            run_two_process(cases, reps, two_count, rounds, tmp)
        if args.only == "two-process":
            return 0
        results: Results = {}
        for rep in range(reps):
            # Interleave: every contender runs every case once per rep.
            for case in cases:
                for name, backend in runs:
                    rate = measure(name, backend, case, count, tmp)
                    results.setdefault((name, backend, case), []).append(rate)
            print(f"one process: rep {rep + 1}/{reps} done", file=sys.stderr)
    print(
        f"\n## One process: {count:,} messages per measurement, median of {reps} "
        "interleaved reps; messages/s, larger is better.\n"
    )
    print_table(results, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
