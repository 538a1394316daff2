"""merge: two sensors, one log; each sensor's readings stay in order."""

from __future__ import annotations

import anyio

from tickwork import Channel, open_channel
from tickwork.recipes.merge import merge


async def main() -> None:
    left: Channel[str] = open_channel(4)
    right: Channel[str] = open_channel(4)
    log: Channel[str] = open_channel(4)
    lines: list[str] = []

    async def sensor(ch: Channel[str], name: str) -> None:
        async with ch.send:
            for i in range(3):
                await ch.send.send(f"{name}-{i}")

    async def writer() -> None:
        async for line in log.recv:  # ends once both sensors are done
            lines.append(line)

    async with anyio.create_task_group() as tg:
        tg.start_soon(merge, [left.recv, right.recv], log.send)
        tg.start_soon(writer)
        tg.start_soon(sensor, left, "left")
        tg.start_soon(sensor, right, "right")

    assert [x for x in lines if x.startswith("left")] == ["left-0", "left-1", "left-2"]
    assert [x for x in lines if x.startswith("right")] == ["right-0", "right-1", "right-2"]


if __name__ == "__main__":
    anyio.run(main)
