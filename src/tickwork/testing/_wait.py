"""``wait_all_blocked``: the public quiescence oracle for tests."""

from __future__ import annotations

from tickwork._park import current_backend
from tickwork._simclock import SimClock


async def wait_all_blocked() -> None:
    """Return once every other task of this event loop is blocked; time never moves.

    On trio this is :func:`trio.testing.wait_all_tasks_blocked`. On asyncio it is the
    quiescent point SimClock's settle engine finds before it would move time: a clock of
    its own settles the loop without moving any other clock.
    """
    if current_backend() == "trio":
        import trio.testing

        await trio.testing.wait_all_tasks_blocked()
        return
    await SimClock().run_until_idle()
