"""Threads hold virtual time: no wrapper needed around ``to_thread.run_sync``."""

from __future__ import annotations

import threading

import anyio
import anyio.to_thread

from tickwork import SimClock


async def program(clock: SimClock) -> list[tuple[str, float]]:
    log: list[tuple[str, float]] = []

    def blocking_work() -> float:
        threading.Event().wait(0.02)  # real time passes in the thread...
        return clock.now()  # ...virtual time does not

    async def ticker() -> None:
        await clock.sleep(0.001)
        log.append(("ticker", clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        log.append(("thread saw", await anyio.to_thread.run_sync(blocking_work)))
    return log


def main(backend: str) -> None:
    clock = SimClock(autojump=True)
    log = clock.run(program, clock, backend=backend)
    assert log == [("thread saw", 0.0), ("ticker", 0.001)], log


if __name__ == "__main__":
    main("asyncio")
