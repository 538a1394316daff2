"""The Clock protocol, the production WallClock, and the shared ``every`` ticker."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Final, Literal, Protocol, Self, final, runtime_checkable

import anyio

from ._validate import is_number

__all__ = ["MAX_NS", "MAX_SECONDS", "Clock", "Ticks", "WallClock", "seconds_to_ns"]

NS_PER_SECOND: Final = 1_000_000_000

MAX_NS: Final = 2**63 - 1
"""The latest representable instant: int64 nanoseconds, about 292 years.

Event loops keep time as float seconds and many tools as int64 ns; beyond this a
deadline can no longer be told apart from its neighbours, so it is refused.
"""

First = Literal["after", "now"]


MAX_SECONDS: Final = MAX_NS / NS_PER_SECOND


def seconds_to_ns(seconds: float, what: str) -> int:
    """Convert seconds to whole nanoseconds; non-finite or out-of-range values get a
    ValueError naming ``what`` (and the limit)."""
    kind = type(seconds)
    if kind is float:
        if -MAX_SECONDS <= seconds <= MAX_SECONDS:  # also false for nan
            return round(seconds * NS_PER_SECOND)
    elif kind is int and -MAX_SECONDS <= seconds <= MAX_SECONDS:
        return int(seconds) * NS_PER_SECOND
    if not is_number(seconds):
        raise TypeError(f"{what} must be a number of seconds, not {type(seconds).__name__}")
    if not math.isfinite(seconds):
        raise ValueError(f"{what} must be a finite number of seconds, got {seconds!r}")
    if abs(seconds) > MAX_SECONDS:
        raise ValueError(
            f"{what} {seconds!r} is beyond the representable range: at most "
            f"{MAX_SECONDS} s (2**63 - 1 ns, about 292 years)"
        )
    return round(seconds * NS_PER_SECOND)


@runtime_checkable
class Clock(Protocol):
    """Where daemons read the time and sleep. Swap WallClock for SimClock in tests."""

    def now(self) -> float:
        """Current time in seconds (monotonic; the epoch is the clock's own)."""
        ...

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Sleep ``seconds``; ``<= 0`` is a single checkpoint."""
        ...

    def wait_until(self, deadline: float) -> Awaitable[None]:
        """Sleep until ``now() >= deadline``; a past deadline is a single checkpoint."""
        ...

    def every(self, period: float, *, first: First = "after") -> AsyncIterator[float]:
        """Yield tick times ``start + k * period``; a late consumer gets the latest due one."""
        ...

    def fail_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        """A block cancelled after ``seconds`` of this clock's time, then ``TimeoutError``."""
        ...

    def move_on_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        """A block cancelled quietly after ``seconds`` of this clock's time."""
        ...

    def busy(self) -> AbstractContextManager[None]:
        """Mark outside work (a thread, real I/O) in flight: a virtual clock holds still."""
        ...

    def jump_when_idle(self) -> AbstractAsyncContextManager[None]:
        """While the block runs, an undriven virtual clock jumps to its next deadline
        whenever the program is quiescent; real time needs nothing.
        """
        ...


class _NsClock(Protocol):
    """What :class:`Ticks` needs: the time and a sleep, in integer nanoseconds."""

    def now_ns(self) -> int: ...

    async def sleep_until_ns(self, deadline_ns: int) -> None: ...


@final
class Ticks(AsyncIterator[float]):
    """Async iterator of tick times, computed as ``start + k * period`` in integer ns.

    Multiplying instead of adding keeps the k-th tick exact however long it runs. A
    consumer that falls behind gets the latest tick already due at once and then the
    schedule again: missed ticks are skipped, never delivered in a burst.
    """

    __slots__ = ("_clock", "_k", "_period_ns", "_start_ns")

    def __init__(self, clock: _NsClock, period: float, first: First) -> None:
        period_ns = seconds_to_ns(period, "every() period")
        if period_ns <= 0 < period:
            raise ValueError(
                f"every() period {period!r} rounds to 0 ns; the clocks count whole "
                "nanoseconds, so use a period of at least 1e-09 s"
            )
        if period_ns <= 0:
            raise ValueError(f"every() period must be > 0 seconds, got {period!r}")
        if first not in ("after", "now"):
            raise ValueError(f"every() first must be 'after' or 'now', got {first!r}")
        self._clock = clock
        self._period_ns = period_ns
        self._start_ns = clock.now_ns()
        self._k = 0 if first == "now" else 1

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> float:
        now_ns = self._clock.now_ns()
        deadline = self._start_ns + self._k * self._period_ns
        if deadline < now_ns:
            # Fell behind: deliver only the latest tick already due, at once.
            self._k = max(self._k, (now_ns - self._start_ns) // self._period_ns)
            deadline = self._start_ns + self._k * self._period_ns
        self._k += 1
        await self._clock.sleep_until_ns(deadline)
        return deadline / NS_PER_SECOND


@final
class WallClock:
    """Real monotonic time; sleeps through anyio, so it runs on asyncio and trio."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "WallClock()"

    def now(self) -> float:
        """Seconds from :func:`time.monotonic`."""
        return time.monotonic()

    def now_ns(self) -> int:
        """Nanoseconds from :func:`time.monotonic_ns` (the ticker's time base)."""
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of real time; ``<= 0`` is one checkpoint."""
        await anyio.sleep(max(seconds, 0.0))  # noqa: TID251 - the one real sleep

    async def wait_until(self, deadline: float) -> None:
        """Sleep until the monotonic clock reaches ``deadline``."""
        await self.sleep(deadline - time.monotonic())

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        """Sleep until the monotonic clock reaches ``deadline_ns`` nanoseconds."""
        await self.sleep((deadline_ns - time.monotonic_ns()) / NS_PER_SECOND)

    def every(self, period: float, *, first: First = "after") -> Ticks:
        """Tick every ``period`` seconds of real time (see :class:`Ticks`)."""
        return Ticks(self, period, first)

    def fail_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        """:func:`anyio.fail_after`: cancel after ``seconds``, then raise ``TimeoutError``."""
        return anyio.fail_after(seconds)

    def move_on_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        """:func:`anyio.move_on_after`: cancel the block quietly after ``seconds``."""
        return anyio.move_on_after(seconds)

    def busy(self) -> AbstractContextManager[None]:
        """A no-op: real time moves on its own whatever is in flight."""
        return contextlib.nullcontext()

    def jump_when_idle(self) -> AbstractAsyncContextManager[None]:
        """A no-op: real time moves on its own."""
        return contextlib.nullcontext()
