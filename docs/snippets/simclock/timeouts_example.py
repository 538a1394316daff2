"""Clock timeouts: daemon code that times out on ``ctx.clock``, on any clock."""

from __future__ import annotations

import anyio

from tickwork import Clock, SimClock


async def fetch_with_timeout(clock: Clock, slow: float) -> str:
    with clock.move_on_after(2.0) as scope:
        await clock.sleep(slow)  # stands in for a slow call
        return "reply"
    assert scope.cancelled_caught
    return "gave up"


async def program() -> list[tuple[str, float]]:
    clock = SimClock()  # detached: made inside the running loop, driven by hand
    results: list[tuple[str, float]] = []

    async def call(slow: float) -> None:
        results.append((await fetch_with_timeout(clock, slow), clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call, 1.0)
        tg.start_soon(call, 10.0)
        await clock.advance(5.0)
    return results


def main(backend: str) -> None:
    results = anyio.run(program, backend=backend)
    assert results == [("reply", 1.0), ("gave up", 2.0)], results


if __name__ == "__main__":
    main("asyncio")
