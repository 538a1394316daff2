"""Seeds: the same-instant order is a function of the seed, replayable."""

from __future__ import annotations

import anyio

from tickwork import SimClock


async def program(seed: int) -> list[int]:
    clock = SimClock(seed=seed)
    woken: list[int] = []
    event = anyio.Event()

    async def waiter(i: int) -> None:
        await event.wait()
        woken.append(i)

    async def setter() -> None:
        await clock.sleep(1)
        event.set()  # four tasks become runnable at one instant

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(waiter, i)
        tg.start_soon(setter)
        await clock.advance(2)
    return woken


def main(backend: str) -> None:
    assert anyio.run(program, 0, backend=backend) == [0, 1, 2, 3]  # seed 0: start order
    # Another seed may permute same-instant order (on trio), the same way every run.
    assert anyio.run(program, 7, backend=backend) == anyio.run(program, 7, backend=backend)


if __name__ == "__main__":
    main("trio")
