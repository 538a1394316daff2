"""SupervisorHost: daemons inside a server that already owns its task group."""

from __future__ import annotations

import anyio

from tickwork import Context, SimClock, Supervisor, daemon
from tickwork.recipes.supervisor_host import SupervisorHost


async def main() -> None:
    clock = SimClock()
    events: list[str] = []

    @daemon
    async def cache_warmer(ctx: Context) -> None:
        async for _ in ctx.clock.every(60.0):
            events.append(f"warm at {ctx.clock.now():.0f}s")

    sup = Supervisor(clock=clock)
    sup.add(cache_warmer())
    host = SupervisorHost(sup, on_stopping=lambda: events.append("draining"))

    async with anyio.create_task_group() as server:  # e.g. your web server's group
        await host.start(server)  # returns once every on_start is done
        await clock.advance(120.0)
        print({name: health.state for name, health in host.snapshot().items()})
        await host.stop()

    assert events == ["warm at 60s", "warm at 120s", "draining"]


if __name__ == "__main__":
    anyio.run(main)
