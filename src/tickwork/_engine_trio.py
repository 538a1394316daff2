"""The trio drive engine: exact quiescence, a run-wide stack of drives, seeded batches.

trio answers "is every task blocked?" exactly (``wait_all_tasks_blocked``, I/O
included), so a drive settles by waiting for that and then takes one step. Drives of
several clocks in one run (a nested supervisor's) share a stack: the newest owns each
quiescent point, older ones wait for it to end, as on asyncio. While a detached drive
runs, same-instant batches are ordered by the clock's seed (``_sched.py``); attached,
the instrument does that for the whole run. ADR 0002, 0019 and 0021.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final, final

from ._clock import NS_PER_SECOND
from ._engine import DEADLOCK_AFTER, EngineHost, Poke
from ._engine_asyncio import THREAD_POLL
from ._sched import SeededScheduling

if TYPE_CHECKING:
    import trio

__all__ = ["TrioEngine"]

IDLE_POLL: Final = 0.01
"""Real seconds an idle autojump drive on trio waits before looking for new deadlines."""


@final
class TrioEngine:
    """Drives one SimClock on trio (the ``Engine`` interface of ``_engine.py``)."""

    __slots__ = ("_attached", "_host", "_limiter", "_own", "_scheduling", "jumper_spawned")

    def __init__(self, host: EngineHost, scheduling: SeededScheduling, *, attached: bool) -> None:
        self._host = host
        self._scheduling = scheduling
        self._attached = attached
        self._own: trio.Event | None = None  # set while this clock's own drive runs
        self.jumper_spawned = False
        self._limiter: trio.CapacityLimiter | None = None  # the run's, looked up once

    async def drive(self, target_ns: int) -> None:
        await self._drive(target_ns)

    async def join(self) -> None:
        await self._drive(self._host.now_ns(), joining=True)

    @asynccontextmanager
    async def jumping(self) -> AsyncGenerator[Poke | None]:
        import trio

        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._jump)
            try:
                yield None
            finally:
                nursery.cancel_scope.cancel()

    def start_autojump(self) -> Poke | None:
        import trio

        self.jumper_spawned = True
        trio.lowlevel.spawn_system_task(self._jump, name="tickwork SimClock autojump")
        return None

    def threads_busy(self) -> bool:
        limiter = self._limiter
        if limiter is None:
            import trio

            limiter = self._limiter = trio.to_thread.current_default_thread_limiter()
        return limiter.borrowed_tokens > 0

    def work_ended(self) -> None:
        pass  # a settling drive waits on the clock's busy-zero callbacks itself

    def idle_wait_expired(self) -> None:
        pass  # only the attached asyncio loop waits in real time for the clock

    def deliver(self, error: BaseException) -> None:
        # Raised in the autojump system task: trio ends the run with TrioInternalError
        # from it (no public way to raise in another task; ADR 0041).
        raise error

    def loop_next_ns(self, now_ns: int) -> int | None:
        if not self._attached:
            return None
        import trio

        ahead = trio.lowlevel.current_statistics().seconds_to_next_deadline
        if ahead == math.inf:
            return None
        deadline = now_ns / NS_PER_SECOND + ahead
        deadline_ns = round(deadline * NS_PER_SECOND)
        if deadline_ns / NS_PER_SECOND < deadline:
            deadline_ns += 1
        return max(deadline_ns, now_ns + 1)

    async def _jump(self) -> None:
        import trio.testing

        host = self._host
        idle_since: float | None = None
        while True:
            await self._drive(None)
            # Nothing due: look again once the program has been idle a moment (a
            # thread or I/O may still bring work; new timers come from running tasks).
            await trio.testing.wait_all_tasks_blocked(IDLE_POLL)
            if not (host.autojump and host.nothing_left()):
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= DEADLOCK_AFTER:
                host.report_deadlock()
                return

    async def _drive(self, target_ns: int | None, *, joining: bool = False) -> None:
        """Settle and step until done; ``joining``: only settle, inside another drive."""
        import trio

        host = self._host
        stack = _drives()
        mine = trio.Event()  # set when this drive ends
        stack.append(mine)
        if not joining:
            self._own = mine
            self._limiter = None  # this run's, looked up on first use
        seeded = not joining and not self._attached
        if seeded:
            self._scheduling.enter()
        try:
            while True:
                await self._settle()
                if stack[-1] is not mine:
                    if joining and stack[-1] is self._own:
                        # This clock's own drive started after us (autojump starts
                        # lazily): it never ends, so this quiescent point is ours.
                        return
                    # A drive started later (a nested clock, a joining run_until_idle)
                    # owns this quiescent point.
                    await stack[-1].wait()
                    continue
                if joining or not host.drive_step(target_ns):
                    return
        finally:
            if seeded:
                self._scheduling.exit()
            stack.remove(mine)
            mine.set()
            if not joining:
                self._own = None

    async def _settle(self) -> None:
        import trio
        import trio.testing

        host = self._host
        while True:
            if host.holds_time():
                event = trio.Event()
                if host.when_not_busy(event.set):
                    await event.wait()
                    continue
            await trio.testing.wait_all_tasks_blocked()
            if not (host.holds_time() or self.threads_busy()):
                return
            event = trio.Event()
            if host.when_not_busy(event.set):
                await event.wait()
                continue
            # A worker thread is running: wait for the program to stay idle a moment
            # of real time, then look again.
            await trio.testing.wait_all_tasks_blocked(THREAD_POLL)


@functools.cache
def _drives_var() -> trio.lowlevel.RunVar[list[trio.Event]]:
    import trio

    return trio.lowlevel.RunVar("tickwork_simclock_drives")


def _drives() -> list[trio.Event]:
    """The drives in progress in this trio run, oldest first (one list per run)."""
    var = _drives_var()
    try:
        return var.get()
    except LookupError:
        stack: list[trio.Event] = []
        var.set(stack)
        return stack
