"""Attached mode: every timer in the program is virtual; autojump drives it."""

from __future__ import annotations

import anyio

from tickwork import SimClock


async def program(clock: SimClock) -> list[str]:
    log: list[str] = []
    try:
        with anyio.fail_after(5):  # anyio's own timeout, not the clock's
            await anyio.sleep(60)  # noqa: TID251 - the loop's own timer, virtual here
    except TimeoutError:
        log.append(f"timed out at t={anyio.current_time()}")
    await clock.sleep(1.5)
    log.append(f"clock sleep ended at t={clock.now()}")
    return log


def main(backend: str) -> None:
    clock = SimClock(autojump=True)
    log = clock.run(program, clock, backend=backend)  # milliseconds of wall time
    assert log == ["timed out at t=5.0", "clock sleep ended at t=6.5"], log


if __name__ == "__main__":
    main("asyncio")
