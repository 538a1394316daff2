"""Clock-timed helpers shared by the network daemons: deadline races."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, final

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

    The deadline is ``clock.move_on_after`` (virtual under SimClock), so a slow call
    times out exactly when the clock says so. An ``Exception`` from ``fn`` is returned,
    not raised, so callers handle a failure and a timeout in one place; cancellation
    from outside propagates as usual.
    """
    outcome: Outcome[T] = Outcome(timed_out=True)
    with clock.move_on_after(timeout):
        try:
            outcome.value = await fn()
        except Exception as exc:
            outcome.error = exc
        outcome.timed_out = False
    return outcome
