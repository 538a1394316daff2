"""ZeroMQ transport throughput: tickwork vs raw pyzmq.asyncio PAIR vs chrono-daemon 0.1.1.

    uv sync --frozen --all-extras --group bench
    uv run --group bench python bench/bench_zmq.py [--quick] [--reps N] [--versions]

Each measurement runs a producer task and a consumer task in one process and event
loop, joined over loopback (``tcp://127.0.0.1`` or ``ipc://``), and reports messages
per second from the first send to the last receive. Every contender encodes with
msgspec msgpack and decodes with a typed msgspec decoder. ``maxsize`` is tickwork's
end-to-end credit window and the other contenders' ZeroMQ high-water mark.

Contenders:
  tickwork  tickwork.transports.zmq (reliable: seq numbers, acks, resend buffer, credit)
  raw       pyzmq.asyncio PAIR sockets + msgspec; no reliability (asyncio only)
  chrono    chrono-daemon 0.1.1's ZMQ channel (PAIR on pyzmq.asyncio; asyncio only)

The machine is noisy (a shared 2-core box), so cases are interleaved and repeated;
the table shows medians. Results are printed as a Markdown table.
"""

# chrono-daemon lives in the `bench` dependency group only; `make test` type-checks
# this file without it installed.
# pyright: reportMissingImports=false

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec
import zmq
import zmq.asyncio

from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive, open_zmq_send

SMALL_DICT: dict[str, Any] = {"id": 12345, "sensor": "thermo-1", "value": 21.5, "ok": True}
KIB_BYTES = bytes(range(256)) * 4
PAYLOADS: dict[str, tuple[Any, Any]] = {
    "small dict": (SMALL_DICT, dict[str, Any]),
    "1 KiB bytes": (KIB_BYTES, bytes),
}

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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages and reps")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--count", type=int, default=None, help="messages per measurement")
    parser.add_argument("--versions", action="store_true", help="print versions and exit")
    parser.add_argument(
        "--backend", choices=["asyncio", "trio"], default=None, help="only this backend"
    )
    args = parser.parse_args()
    print(versions())
    if args.versions:
        return 0
    reps = args.reps or (2 if args.quick else 5)
    count = args.count or (2_000 if args.quick else 20_000)
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
    results: Results = {}
    with tempfile.TemporaryDirectory(prefix="twb-") as tmp:
        for rep in range(reps):
            # Interleave: every contender runs every case once per rep.
            for case in cases:
                for name, backend in runs:
                    rate = measure(name, backend, case, count, tmp)
                    results.setdefault((name, backend, case), []).append(rate)
            print(f"rep {rep + 1}/{reps} done", file=sys.stderr)
    print(
        f"\n{count:,} messages per measurement, median of {reps} interleaved reps; "
        "messages/s, larger is better.\n"
    )
    print_table(results, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
