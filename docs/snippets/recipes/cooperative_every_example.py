"""cooperative_every: a heartbeat that ends the moment the supervisor stops."""

from __future__ import annotations

import anyio

from tickwork import Context, SimClock, Supervisor
from tickwork.recipes.cooperative_every import cooperative_every


async def main() -> None:
    clock = SimClock()
    beats: list[float] = []

    async def heartbeat(ctx: Context) -> None:
        async for t in cooperative_every(ctx, 5.0):
            beats.append(t)

    async with Supervisor(clock=clock) as sup:
        sup.spawn(heartbeat)
        await clock.advance(12.0)
        await sup.stop()  # heartbeat returns at once; no wait for the beat at 15 s

    assert beats == [5.0, 10.0]


if __name__ == "__main__":
    anyio.run(main)
