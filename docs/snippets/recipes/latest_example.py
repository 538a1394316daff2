"""Latest: a controller always acts on the newest setpoint and never polls."""

from __future__ import annotations

import anyio

from tickwork import SimClock
from tickwork.recipes.latest import Latest


async def main() -> None:
    clock = SimClock()
    setpoint: Latest[float] = Latest(20.0)
    applied: list[float] = []

    async def controller() -> None:
        seen = setpoint.version
        while len(applied) < 2:
            value = await setpoint.wait_changed(seen)  # sleeps until a set()
            seen = setpoint.version
            applied.append(value)

    async with anyio.create_task_group() as tg:
        tg.start_soon(controller)
        await clock.run_until_idle()
        setpoint.set(21.0)
        await clock.run_until_idle()
        setpoint.set(21.5)  # two quick updates: the controller sees only the newest
        setpoint.set(22.0)

    assert applied == [21.0, 22.0]
    assert setpoint.get() == 22.0


if __name__ == "__main__":
    anyio.run(main)
