"""The interface between SimClock and its per-backend drive engines (ADR 0021).

SimClock keeps the backend-neutral half of virtual time: the timer heap, the current
instant, what a step at a quiescent point does, and the outside-work counters. An
engine keeps the other half, which differs per event loop: how to find the quiescent
points, how a drive waits for them, how an autojump drive is started, and what the
loop's own threads and timers look like. One module per backend, as anyio keeps its
backends: ``_engine_asyncio.py`` and ``_engine_trio.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final, Protocol, final

__all__ = ["DEADLOCK_AFTER", "Engine", "EngineHost", "Poke"]

DEADLOCK_AFTER: Final = 0.5
"""Real seconds an autojump clock waits, with nothing left to wake, before it raises
Deadlock (SPEC: at most 1 s; the margin covers the poll interval)."""

Poke = Callable[[], object]
"""Called when a timer is registered while a jump drive idles, so it looks again."""


@final
@dataclass(frozen=True, slots=True)
class EngineHost:
    """What an engine needs from its SimClock, handed over as the clock's own private
    methods, so none of it is part of SimClock's public surface (ADR 0027)."""

    settle_rounds: int
    autojump: bool
    now: Callable[[], float]
    now_ns: Callable[[], int]
    drive_step: Callable[[int | None], bool]
    """At a quiescent point: take one step (release idle waiters or fire a timer)."""
    step_moves_time: Callable[[], bool]
    """Whether the next step would move the time (or end a bounded drive)."""
    holds_time: Callable[[], bool]
    """Outside work (``busy()`` blocks, executor jobs, worker threads) is in flight."""
    when_not_busy: Callable[[Callable[[], object]], bool]
    """If ``busy()`` blocks are open, call the callback once they close; else False."""
    nothing_left: Callable[[], bool]
    """No timer, no loop deadline, no outside work: nothing can ever wake a task."""
    report_deadlock: Callable[[], None]
    """Raise (or deliver) :class:`~tickwork.Deadlock` for an autojump clock."""
    next_quiescent_point: Callable[[], Awaitable[None]]
    """Park until the running drive's next quiescent point (a joining idle wait)."""


class Engine(Protocol):
    """One event loop's way to drive a SimClock."""

    async def drive(self, target_ns: int) -> None:
        """Settle and step until no timer is due by ``target_ns``."""
        ...

    async def join(self) -> None:
        """Inside another task's drive of this clock: return at its next quiescent point."""
        ...

    def jumping(self) -> AbstractAsyncContextManager[Poke | None]:
        """Jump to the next deadline at each quiescent point while the block runs."""
        ...

    def start_autojump(self) -> Poke | None:
        """Start an autojump drive that lasts as long as the event loop."""
        ...

    def threads_busy(self) -> bool:
        """Worker threads of the loop's default limiter are running."""
        ...

    def work_ended(self) -> None:
        """Outside work ended: a drive held by it may go on."""
        ...

    def idle_wait_expired(self) -> None:
        """The attached loop waited in real time and nothing arrived."""
        ...

    def deliver(self, error: BaseException) -> None:
        """Detached: raise an autojump ``Deadlock`` where the program can see it."""
        ...

    def loop_next_ns(self, now_ns: int) -> int | None:
        """Attached: the loop's own next timer after ``now_ns``; detached: None."""
        ...
