"""Clock-timed helpers shared by the network daemons: deadlines and setting checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, final

from tickwork import Clock

__all__ = ["Outcome", "race_deadline", "validate_seconds"]

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


def validate_seconds(owner: str, name: str, value: object, minimum: float) -> float:
    """Return ``value`` as float seconds, or raise naming ``owner.name`` and the bound."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not seconds >= minimum or seconds == float("inf"):
        raise ValueError(
            f"{owner}.{name} must be a finite number of seconds >= {minimum}, got {value!r}"
        )
    return seconds
