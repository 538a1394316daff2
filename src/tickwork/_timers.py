"""SimClock's timer heap: typed entries keyed ``(deadline_ns, registration seq)``.

An entry either wakes a parked task (a sleeper) or cancels a cancel scope (a clock
timeout). Cancelled entries are dropped lazily and the heap is compacted once they
outnumber the live ones, so a cancelled timer never slows later wakes for long.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Final, final

import anyio

from ._park import Waiter

__all__ = ["Timer", "TimerHeap"]

COMPACT_MIN: Final = 64
"""Cancelled entries tolerated before compaction is even considered.

Once cancelled entries outnumber the live ones (and there are at least this many) the
heap is rebuilt, so compaction is amortised O(1) per cancellation.
"""

Target = Waiter | anyio.CancelScope


@final
class Timer:
    """One deadline: what it wakes (``target``) until it fires or is dropped."""

    __slots__ = ("deadline_ns", "fired", "target")

    def __init__(self, deadline_ns: int, target: Target) -> None:
        self.deadline_ns = deadline_ns
        self.target: Target | None = target
        self.fired = False


@final
class TimerHeap:
    """The live timers of one clock, earliest ``(deadline, seq)`` first."""

    __slots__ = ("_cancelled", "_heap", "_seq", "live")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()
        self._cancelled = 0
        self.live = 0

    def push(self, deadline_ns: int, target: Target) -> Timer:
        """Register ``target`` to fire at ``deadline_ns``; after every earlier-registered one."""
        timer = Timer(deadline_ns, target)
        heapq.heappush(self._heap, (deadline_ns, next(self._seq), timer))
        self.live += 1
        return timer

    def drop(self, timer: Timer) -> None:
        """Forget ``timer`` if it has not fired (a cancelled sleep, a timeout block left)."""
        if timer.target is None:
            return
        timer.target = None
        self.live -= 1
        self._cancelled += 1
        if self._cancelled >= COMPACT_MIN and self._cancelled > self.live:
            self._heap = [item for item in self._heap if item[2].target is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def peek(self) -> Timer | None:
        """The earliest live timer (dropping cancelled ones on the way), or None."""
        heap = self._heap
        while heap and heap[0][2].target is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        return heap[0][2] if heap else None

    def pop_due(self, limit_ns: int) -> Timer | None:
        """Remove and return the earliest live timer due by ``limit_ns``, marked fired."""
        timer = self.peek()
        if timer is None or timer.deadline_ns > limit_ns:
            return None
        heapq.heappop(self._heap)
        self.live -= 1
        timer.fired = True
        return timer
