"""The two-process ZeroMQ benchmarks: each contender's parent side and child side.

``bench_zmq.py`` runs the parent side in its own process and starts the child with
``python bench/_zmq_peers.py ROLE CONTENDER ...``. Throughput: the child sends
``count`` items, the parent receives them and times from the first item to the last
(process start-up and the connection are not timed). Latency: the parent sends one
item, the child sends it back on a second link, one at a time.

Contenders (the child runs the same one as the parent):
  tickwork-asyncio, tickwork-trio  open_zmq_send / open_zmq_receive, everything on
  raw-sync      pyzmq PUSH/PULL, blocking calls, msgspec; no reliability
  raw-asyncio   zmq.asyncio PUSH/PULL, msgspec; no reliability
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import anyio
import msgspec
import zmq
import zmq.asyncio

from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive, open_zmq_send

__all__ = ["CONTENDERS", "PAYLOADS", "WARMUP_ROUNDS", "latency", "throughput"]

SMALL_DICT: Final[dict[str, Any]] = {"id": 12345, "sensor": "thermo-1", "value": 21.5, "ok": True}
KIB_BYTES: Final = bytes(range(256)) * 4
PAYLOADS: Final[dict[str, tuple[Any, Any]]] = {
    "small dict": (SMALL_DICT, dict[str, Any]),
    "1 KiB bytes": (KIB_BYTES, bytes),
}
CONTENDERS: Final = ("tickwork-asyncio", "tickwork-trio", "raw-sync", "raw-asyncio")

LINGER_MS: Final = 60_000
"""Senders wait this long on exit for the receiver to take everything (never reached)."""
CHILD_TIMEOUT_S: Final = 300.0
STALL_S: Final = 20.0
"""A raw zmq.asyncio receiver that gets nothing for this long has stalled: on ipc here,
``await recv()`` stops waking up with items still unread (pyzmq 27.3, libzmq 4.3.5).
Its figure is then reported as n/a (NaN) instead of hanging the run; the raw sync
receiver gets the same bound (once seen stalling on ipc at low load)."""
HERE: Final = Path(__file__).resolve()


def _backend(contender: str) -> str:
    return contender.removeprefix("tickwork-")


def _codec(payload: str) -> tuple[Any, Callable[[Any], bytes], Callable[[bytes], Any]]:
    item, kind = PAYLOADS[payload]
    return item, msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder(kind).decode


def _raw_pair(ctx: zmq.Context[Any], kind: int, hwm: int) -> zmq.Socket[Any]:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    return sock


def _aio_pair(ctx: zmq.asyncio.Context, kind: int, hwm: int) -> zmq.asyncio.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    return sock


def _bind_address(transport: str, tmp: str, tag: str) -> str:
    if transport == "tcp":
        return "tcp://127.0.0.1:0"
    return f"ipc://{tmp}/{tag}-{time.monotonic_ns()}.sock"


def _resolved(sock: zmq.Socket[Any]) -> str:
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)


def _raw_bind(sock: zmq.Socket[Any], address: str) -> str:
    sock.bind(address.replace(":0", ":*") if address.startswith("tcp://") else address)
    return _resolved(sock)


def _start_child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HERE), *args])


def _join(child: subprocess.Popen[bytes]) -> None:
    if child.wait(timeout=CHILD_TIMEOUT_S) != 0:
        raise RuntimeError(f"benchmark child {child.args!r} exited {child.returncode}")


# -- throughput: parent receives ----------------------------------------------------------


def throughput(
    contender: str, transport: str, payload: str, maxsize: int, count: int, tmp: str
) -> float:
    """Messages per second from the child's first item to its last, as the parent sees it."""
    address = _bind_address(transport, tmp, contender)
    child_args = ("send", contender, payload, str(maxsize), str(count))
    if contender == "raw-sync":
        return _raw_sync_receive(address, child_args, payload, maxsize, count)
    if contender == "raw-asyncio":
        return anyio.run(_raw_asyncio_receive, address, child_args, payload, maxsize, count)
    return anyio.run(
        _tickwork_receive, address, child_args, payload, maxsize, count, backend=_backend(contender)
    )


async def _tickwork_receive(
    address: str, child_args: tuple[str, ...], payload: str, maxsize: int, count: int
) -> float:
    _, kind = PAYLOADS[payload]
    serde: MsgpackSerde[Any] = MsgpackSerde(kind)
    async with open_zmq_receive(address, maxsize=maxsize, serde=serde, linger_ms=0) as rx:
        child = _start_child(*child_args, rx.endpoint)
        try:
            receive = rx.receive
            await receive()
            start = time.perf_counter()
            for _ in range(count - 1):
                await receive()
            elapsed = time.perf_counter() - start
        finally:
            await anyio.to_thread.run_sync(_join, child)
    return (count - 1) / elapsed


def _raw_sync_receive(
    address: str, child_args: tuple[str, ...], payload: str, maxsize: int, count: int
) -> float:
    _, _, decode = _codec(payload)
    ctx: zmq.Context[Any] = zmq.Context()
    sock = _raw_pair(ctx, zmq.PULL, maxsize)
    sock.setsockopt(zmq.RCVTIMEO, int(STALL_S * 1000))  # a stall is n/a, not a hang
    try:
        child = _start_child(*child_args, _raw_bind(sock, address))
        elapsed = math.nan
        try:
            recv = sock.recv
            decode(recv())
            start = time.perf_counter()
            for _ in range(count - 1):
                decode(recv())
            elapsed = time.perf_counter() - start
        except zmq.Again:
            pass  # stalled: reported as n/a
        finally:
            if math.isnan(elapsed):
                child.kill()
                child.wait()
            else:
                _join(child)
    finally:
        sock.close(0)
        ctx.term()
    return (count - 1) / elapsed


async def _raw_asyncio_receive(
    address: str, child_args: tuple[str, ...], payload: str, maxsize: int, count: int
) -> float:
    _, _, decode = _codec(payload)
    ctx = zmq.asyncio.Context()
    sock = _aio_pair(ctx, zmq.PULL, maxsize)
    try:
        child = _start_child(*child_args, _raw_bind(sock, address))
        elapsed = math.nan
        try:
            recv = sock.recv
            with anyio.move_on_after(STALL_S):
                decode(await recv())
                start = time.perf_counter()
                for _ in range(count - 1):
                    with anyio.fail_after(STALL_S):
                        decode(await recv())
                elapsed = time.perf_counter() - start
        except TimeoutError:
            pass  # stalled: reported as n/a
        finally:
            if math.isnan(elapsed):
                child.kill()
                await anyio.to_thread.run_sync(child.wait)
            else:
                await anyio.to_thread.run_sync(_join, child)
    finally:
        sock.close(0)
        ctx.term()
    return (count - 1) / elapsed


# -- throughput: child sends ----------------------------------------------------------------


def _child_send(contender: str, payload: str, maxsize: int, count: int, address: str) -> None:
    item, encode, _ = _codec(payload)
    if contender == "raw-sync":
        ctx: zmq.Context[Any] = zmq.Context()
        sock = _raw_pair(ctx, zmq.PUSH, maxsize)
        sock.connect(address)
        send = sock.send
        for _ in range(count):
            send(encode(item))
        sock.close()
        ctx.term()
    elif contender == "raw-asyncio":

        async def run_raw() -> None:
            actx = zmq.asyncio.Context()
            sock = _aio_pair(actx, zmq.PUSH, maxsize)
            sock.connect(address)
            send = sock.send
            for _ in range(count):
                await send(encode(item))
            sock.close(linger=LINGER_MS)
            actx.term()

        anyio.run(run_raw)
    else:

        async def run_tickwork() -> None:
            serde: MsgpackSerde[Any] = MsgpackSerde(PAYLOADS[payload][1])
            async with open_zmq_send(
                address, maxsize=maxsize, serde=serde, linger_ms=LINGER_MS
            ) as tx:
                await tx.wait_peer()
                send = tx.send
                for _ in range(count):
                    await send(item)

        anyio.run(run_tickwork, backend=_backend(contender))


# -- latency: one item at a time, there and back --------------------------------------------


def latency(contender: str, transport: str, payload: str, rounds: int, tmp: str) -> list[float]:
    """Round-trip times in seconds for ``rounds`` items sent one at a time (after a warm-up)."""
    there = _bind_address(transport, tmp, contender + "-there")
    back = _bind_address(transport, tmp, contender + "-back")
    if contender == "raw-sync":
        return _raw_sync_ping(there, back, contender, payload, rounds)
    if contender == "raw-asyncio":
        return anyio.run(_raw_asyncio_ping, there, back, contender, payload, rounds)
    return anyio.run(
        _tickwork_ping, there, back, contender, payload, rounds, backend=_backend(contender)
    )


WARMUP_ROUNDS: Final = 100
LATENCY_WINDOW: Final = 64


async def _tickwork_ping(
    there: str, back: str, contender: str, payload: str, rounds: int
) -> list[float]:
    item, kind = PAYLOADS[payload]
    serde: MsgpackSerde[Any] = MsgpackSerde(kind)
    times: list[float] = []
    async with (
        open_zmq_send(there, bind=True, maxsize=LATENCY_WINDOW, serde=serde, linger_ms=0) as tx,
        open_zmq_receive(back, maxsize=LATENCY_WINDOW, serde=serde, linger_ms=0) as rx,
    ):
        child = _start_child("echo", contender, payload, str(rounds), tx.endpoint, rx.endpoint)
        try:
            for n in range(WARMUP_ROUNDS + rounds):
                start = time.perf_counter()
                await tx.send(item)
                await rx.receive()
                if n >= WARMUP_ROUNDS:
                    times.append(time.perf_counter() - start)
            tx.close()
        finally:
            await anyio.to_thread.run_sync(_join, child)
    return times


def _raw_sync_ping(there: str, back: str, contender: str, payload: str, rounds: int) -> list[float]:
    item, encode, decode = _codec(payload)
    ctx: zmq.Context[Any] = zmq.Context()
    tx = _raw_pair(ctx, zmq.PUSH, LATENCY_WINDOW)
    rx = _raw_pair(ctx, zmq.PULL, LATENCY_WINDOW)
    times: list[float] = []
    try:
        child = _start_child(
            "echo", contender, payload, str(rounds), _raw_bind(tx, there), _raw_bind(rx, back)
        )
        try:
            for n in range(WARMUP_ROUNDS + rounds):
                start = time.perf_counter()
                tx.send(encode(item))
                decode(rx.recv())
                if n >= WARMUP_ROUNDS:
                    times.append(time.perf_counter() - start)
        finally:
            _join(child)
    finally:
        tx.close(0)
        rx.close(0)
        ctx.term()
    return times


async def _raw_asyncio_ping(
    there: str, back: str, contender: str, payload: str, rounds: int
) -> list[float]:
    item, encode, decode = _codec(payload)
    ctx = zmq.asyncio.Context()
    tx = _aio_pair(ctx, zmq.PUSH, LATENCY_WINDOW)
    rx = _aio_pair(ctx, zmq.PULL, LATENCY_WINDOW)
    times: list[float] = []
    try:
        child = _start_child(
            "echo", contender, payload, str(rounds), _raw_bind(tx, there), _raw_bind(rx, back)
        )
        try:
            for n in range(WARMUP_ROUNDS + rounds):
                start = time.perf_counter()
                await tx.send(encode(item))
                with anyio.move_on_after(STALL_S) as stalled:
                    decode(await rx.recv())
                if stalled.cancelled_caught:
                    child.kill()
                    return []
                if n >= WARMUP_ROUNDS:
                    times.append(time.perf_counter() - start)
        finally:
            await anyio.to_thread.run_sync(child.wait)
    finally:
        tx.close(0)
        rx.close(0)
        ctx.term()
    return times


def _child_echo(contender: str, payload: str, rounds: int, there: str, back: str) -> None:
    total = WARMUP_ROUNDS + rounds
    _, encode, decode = _codec(payload)
    if contender == "raw-sync":
        ctx: zmq.Context[Any] = zmq.Context()
        rx = _raw_pair(ctx, zmq.PULL, LATENCY_WINDOW)
        tx = _raw_pair(ctx, zmq.PUSH, LATENCY_WINDOW)
        rx.connect(there)
        tx.connect(back)
        for _ in range(total):
            tx.send(encode(decode(rx.recv())))
        rx.close()
        tx.close()
        ctx.term()
    elif contender == "raw-asyncio":

        async def run_raw() -> None:
            actx = zmq.asyncio.Context()
            rx = _aio_pair(actx, zmq.PULL, LATENCY_WINDOW)
            tx = _aio_pair(actx, zmq.PUSH, LATENCY_WINDOW)
            rx.connect(there)
            tx.connect(back)
            for _ in range(total):
                await tx.send(encode(decode(await rx.recv())))
            rx.close()
            tx.close()
            actx.term()

        anyio.run(run_raw)
    else:

        async def run_tickwork() -> None:
            serde: MsgpackSerde[Any] = MsgpackSerde(PAYLOADS[payload][1])
            async with (
                open_zmq_receive(
                    there, bind=False, maxsize=LATENCY_WINDOW, serde=serde, linger_ms=0
                ) as rx,
                open_zmq_send(
                    back, bind=False, maxsize=LATENCY_WINDOW, serde=serde, linger_ms=LINGER_MS
                ) as tx,
            ):
                for _ in range(total):
                    await tx.send(await rx.receive())

        anyio.run(run_tickwork, backend=_backend(contender))


def main(argv: list[str]) -> int:
    """The child side: ``send CONTENDER PAYLOAD MAXSIZE COUNT ADDRESS`` or
    ``echo CONTENDER PAYLOAD ROUNDS THERE BACK``."""
    role, contender, payload, number, *addresses = argv
    if role == "send":
        count, address = int(addresses[0]), addresses[1]
        _child_send(contender, payload, int(number), count, address)
    else:
        _child_echo(contender, payload, int(number), addresses[0], addresses[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
