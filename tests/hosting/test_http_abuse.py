"""Slow clients time out on the clock; a flood of bad requests never moves a daemon's ticks."""

from __future__ import annotations

import anyio

from tickwork import Context, SimClock, Supervisor
from tickwork.hosting import serve_hosting
from tickwork.hosting.http import HEADER_TIMEOUT

GOOD = b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n"


async def test_slow_client_is_closed_at_the_header_deadline_and_flood_leaves_ticks_alone() -> None:
    clock = SimClock()
    ticks: list[float] = []

    async def ticker(ctx: Context) -> None:
        async for tick in ctx.clock.every(0.5):
            ticks.append(ctx.clock.now() - tick)  # lateness of each tick
            if ctx.stopping:
                return

    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock) as sup:
            sup.spawn(ticker, name="ticker")
            address = await tg.start(
                lambda task_status: serve_hosting(
                    sup, notify=False, health="127.0.0.1:0", task_status=task_status
                )
            )
            host, port = address.rsplit(":", 1)
            async with await anyio.connect_tcp(host, int(port)) as slow:
                await slow.send(GOOD)
                assert (await slow.receive()).startswith(b"HTTP/1.1 200")
                await slow.send(b"GET /livez HTTP/1.1\r\n")  # half a head, then nothing
                for _ in range(20):  # a flood of malformed requests meanwhile
                    async with await anyio.connect_tcp(host, int(port)) as bad:
                        await bad.send(b"\x00\x01garbage\r\n\r\n")
                        assert (await bad.receive()).startswith(b"HTTP/1.1 400")
                await clock.advance(HEADER_TIMEOUT)
                rest = b""
                try:
                    while True:
                        rest += await slow.receive()
                except anyio.EndOfStream:
                    pass
                assert rest == b""  # closed without a reply
            # Every tick due while the flood ran came on time (stop() may add one more:
            # its grace runs on the clock, and the ticker sees the stop at its next tick).
            assert len(ticks) == int(HEADER_TIMEOUT / 0.5)
            await sup.stop()
        tg.cancel_scope.cancel()
    assert set(ticks) == {0.0}
