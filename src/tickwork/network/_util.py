"""Clock-timed helpers shared by the network daemons: deadline races."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, final

import anyio

from tickwork import Clock

__all__ = ["Outcome", "race_deadline"]

T = TypeVar("T")


@final
@dataclass(slots=True)
class Outcome(Generic[T]):
    """What :func:`race_deadline` saw: a value, an exception, or the deadline passing."""

    value: T | None = None
    error: Exception | None = None
    timed_out: bool = False


async def race_deadline(clock: Clock, timeout: float, fn: Callable[[], Awaitable[T]]) -> Outcome[T]:
    """Run ``fn()`` but give up after ``timeout`` seconds of ``clock`` time.

    Unlike ``anyio.fail_after`` (wall time) the deadline is a sleeper on ``clock``, so
    under SimClock a slow call times out exactly when virtual time says so. An
    ``Exception`` from ``fn`` is returned, not raised, so it never arrives wrapped in an
    ExceptionGroup; cancellation from outside propagates as usual.
    """
    outcome: Outcome[T] = Outcome(timed_out=True)
    scope = anyio.CancelScope()

    async def watchdog() -> None:
        await clock.sleep(timeout)
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watchdog)
        with scope:
            try:
                outcome.value = await fn()
            except Exception as exc:
                outcome.error = exc
            outcome.timed_out = False
        tg.cancel_scope.cancel()
    return outcome
