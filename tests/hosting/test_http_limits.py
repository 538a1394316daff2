"""The endpoint against hostile clients, on real loopback sockets, under SimClock.

The connection limit, a head sent byte by byte (served; but the head's deadline runs
from accept, so dribbling bytes cannot hold a slot), a 10 MB header (431), HTTP/1.0
and pipelined requests. A daemon ticking meanwhile keeps every tick on time. Waits
for the server are on real sockets, each bounded by a wall-clock ``fail_after``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc
import httpx

from tickwork import Channel, Context, SimClock, Supervisor, open_channel
from tickwork.hosting import register_stats, serve_hosting
from tickwork.hosting.http import (
    HEADER_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_HEAD_BYTES,
    METRICS_MAX_AGE,
)

PERIOD = 0.5  # the ticker's period, clock seconds
EXTRA = 8  # connections beyond MAX_CONNECTIONS
WALL = 10.0  # generous wall-clock bound on any wait for the real server
GOOD = b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n"
HUGE_HEADER = 10 * 1024 * 1024


@dataclass
class Endpoint:
    clock: SimClock
    host: str
    port: int
    lateness: list[float] = field(default_factory=list[float])

    async def connect(self) -> anyio.abc.SocketStream:
        return await anyio.connect_tcp(self.host, self.port)


@asynccontextmanager
async def endpoint() -> AsyncIterator[Endpoint]:
    """A supervisor with a ticker daemon, serving the endpoint on an ephemeral port."""
    clock = SimClock()
    lateness: list[float] = []

    async def ticker(ctx: Context) -> None:
        async for tick in ctx.clock.every(PERIOD):
            lateness.append(ctx.clock.now() - tick)
            if ctx.stopping:
                return

    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock) as sup:
            sup.spawn(ticker, name="ticker")
            address: str = await tg.start(
                lambda task_status: serve_hosting(
                    sup, notify=False, health="127.0.0.1:0", task_status=task_status
                )
            )
            host, port = address.rsplit(":", 1)
            yield Endpoint(clock, host, int(port), lateness)
            await sup.stop()
        tg.cancel_scope.cancel()


async def read_all(stream: anyio.abc.SocketStream) -> bytes:
    """Everything until the server closes (a reset counts as closed)."""
    got = b""
    with anyio.fail_after(WALL):
        try:
            while True:
                got += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return got


async def read_until(stream: anyio.abc.SocketStream, done: Callable[[bytes], bool]) -> bytes:
    got = b""
    with anyio.fail_after(WALL):
        while not done(got):
            got += await stream.receive()
    return got


def responses(data: bytes) -> int:
    return len(re.findall(rb"HTTP/1\.1 \d{3} ", data))


async def test_connections_past_the_limit_are_closed_and_service_resumes() -> None:
    async with endpoint() as ep:
        idle = [await ep.connect() for _ in range(MAX_CONNECTIONS)]
        extra = [await ep.connect() for _ in range(EXTRA)]
        # The server accepts in order: the first MAX_CONNECTIONS hold every slot, so
        # each extra one is closed at once, without a byte of reply.
        for stream in extra:
            assert await read_all(stream) == b""
            await stream.aclose()
        assert ep.lateness == []  # no clock time passed yet
        # The idle ones hold their slots until the head deadline, ticks keep coming.
        await ep.clock.advance(HEADER_TIMEOUT)
        for stream in idle:
            assert await read_all(stream) == b""
            await stream.aclose()
        async with httpx.AsyncClient(base_url=f"http://{ep.host}:{ep.port}") as client:
            with anyio.fail_after(WALL):
                assert (await client.get("/livez")).status_code == 200
        assert ep.lateness == [0.0] * int(HEADER_TIMEOUT / PERIOD)


async def test_a_head_sent_byte_by_byte_is_served() -> None:
    async with endpoint() as ep, await ep.connect() as stream:
        for i in range(len(GOOD)):
            await stream.send(GOOD[i : i + 1])
        reply = await read_until(stream, lambda got: got.endswith(b"ok\n"))
        assert reply.startswith(b"HTTP/1.1 200")


async def test_dribbling_bytes_does_not_extend_the_head_deadline() -> None:
    async with endpoint() as ep, await ep.connect() as stream:
        dribble = b"GET /livez HTTP/1.1\r\nx-slow: " + b"a" * int(HEADER_TIMEOUT * 4)
        for i in range(int(HEADER_TIMEOUT / PERIOD) - 1):
            await stream.send(dribble[i : i + 1])
            await ep.clock.advance(PERIOD)
        await stream.send(b"b")
        await ep.clock.advance(PERIOD)  # HEADER_TIMEOUT since accept: closed, no reply
        assert await read_all(stream) == b""
        assert ep.lateness == [0.0] * int(HEADER_TIMEOUT / PERIOD)


async def test_a_10_mb_header_gets_431_and_the_server_stays_up() -> None:
    async with endpoint() as ep:
        stream = await ep.connect()
        head = b"GET /livez HTTP/1.1\r\nhost: x\r\nx-big: "
        sent = 0

        async def flood() -> None:
            nonlocal sent
            chunk = b"a" * (64 * 1024)
            try:
                await stream.send(head)
                while sent < HUGE_HEADER:
                    await stream.send(chunk)
                    sent += len(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass  # the server closed on us, as it should

        reply = b""
        async with anyio.create_task_group() as tg:
            tg.start_soon(flood)
            reply = await read_all(stream)
        await stream.aclose()
        # The server read at most a little past MAX_HEAD_BYTES before answering: a
        # reply, if the reset did not overtake it, is 431.
        assert reply == b"" or reply.startswith(b"HTTP/1.1 431"), reply[:80]
        assert sent < HUGE_HEADER
        async with httpx.AsyncClient(base_url=f"http://{ep.host}:{ep.port}") as client:
            with anyio.fail_after(WALL):
                assert (await client.get("/livez")).status_code == 200


async def test_a_head_over_the_cap_gets_431() -> None:
    async with endpoint() as ep, await ep.connect() as stream:
        # h11 measures the head while it is incomplete, after each read of up to
        # MAX_HEAD_BYTES: a head over twice the cap is refused whatever the reads.
        big = b"GET /livez HTTP/1.1\r\nx-big: " + b"a" * (2 * MAX_HEAD_BYTES) + b"\r\n\r\n"
        await stream.send(big)
        reply = await read_all(stream)
        assert reply.startswith(b"HTTP/1.1 431")
        assert b"connection: close" in reply.lower()


async def test_http_1_0_is_answered_and_closed() -> None:
    async with endpoint() as ep, await ep.connect() as stream:
        await stream.send(b"GET /readyz HTTP/1.0\r\n\r\n")
        reply = await read_all(stream)  # closed after one response: 1.0 has no keep-alive
        assert responses(reply) == 1
        assert reply.startswith(b"HTTP/1.1 ")
        assert b"connection: close" in reply.lower()


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with endpoint() as ep, await ep.connect() as stream:
        await ep.clock.advance(PERIOD)  # the first evaluation: /readyz can say 200
        pipelined = (
            b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        await stream.send(pipelined)
        reply = await read_all(stream)
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)
        assert statuses == [b"200", b"404", b"200"]
        assert reply.endswith(b"}")  # the /readyz JSON body came last


async def test_metrics_render_once_per_period_however_many_scrape() -> None:
    clock = SimClock()
    ch: Channel[int] = open_channel(4)
    gauge = 'tickwork_channel_current_buffer_used{source="jobs"}'

    async def idle(ctx: Context) -> None:
        await ctx.stop_event.wait()

    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock) as sup:
            sup.spawn(idle, name="idle")
            register_stats(sup, "jobs", ch.send)
            address = await tg.start(
                lambda task_status: serve_hosting(
                    sup, notify=False, health="127.0.0.1:0", task_status=task_status
                )
            )
            async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                with anyio.fail_after(WALL):
                    first = (await client.get("/metrics")).text
                    ch.send.send_nowait(1)  # a change within the period is not seen yet
                    bodies: list[str] = []

                    async def scrape() -> None:
                        bodies.append((await client.get("/metrics")).text)

                    async with anyio.create_task_group() as scrapers:
                        for _ in range(5):
                            scrapers.start_soon(scrape)
                    await clock.advance(METRICS_MAX_AGE)
                    fresh = (await client.get("/metrics")).text
            assert f"{gauge} 0.0" in first
            assert bodies == [first] * 5
            assert f"{gauge} 1.0" in fresh
            await sup.stop()
        tg.cancel_scope.cancel()
