"""The README's quick example: a ticking producer, a consumer, one supervisor.

Run it: ``python examples/quickstart.py`` (three real seconds), or replay the same
code under virtual time with ``python examples/quickstart.py --sim`` (instant).
"""

from __future__ import annotations

import sys

import anyio

import tickwork
from tickwork import Channel, Context, SimClock, Supervisor, daemon


@daemon
async def ticker(ctx: Context, out: tickwork.SendStream[int], count: int) -> None:
    """Send 1, 2, ... once a second, ``count`` times, then close the channel."""
    async with out:
        n = 0
        async for _ in ctx.clock.every(1.0):
            n += 1
            await out.send(n)
            if n == count:
                return


@daemon
async def printer(ctx: Context, inbox: tickwork.ReceiveStream[int]) -> None:
    """Print whatever arrives until the sender closes."""
    start = ctx.clock.now()
    async for n in inbox:
        print(f"[{ctx.clock.now() - start:4.1f}s] tick {n}")


async def main(sim: bool) -> None:
    clock = SimClock() if sim else tickwork.WallClock()
    ch: Channel[int] = tickwork.open_channel(8)
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker(ch.send, 3))
        sup.add(printer(ch.recv))
        if isinstance(clock, SimClock):
            await clock.advance(3.0)  # replay three seconds at once


if __name__ == "__main__":
    anyio.run(main, "--sim" in sys.argv[1:])
