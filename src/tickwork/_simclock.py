"""SimClock: virtual time that moves only when a test drives it, settled by quiescence.

Sleepers sit in a heap keyed ``(deadline_ns, registration seq)``. ``advance`` wakes
them one at a time, and before each wake (and before returning) waits until the whole
program is quiescent: every task blocked and no outside work (``busy()``) in flight.

How quiescence is observed (ADR 0002):

* trio: ``trio.testing.wait_all_tasks_blocked()``, which the scheduler answers
  exactly, I/O included. Between sleepers due at the same instant, the last runnable
  task hands the wake on itself ("baton passing"), saving a trip through the driver.
* asyncio: one probe callback per event loop reads whether the ready queue is empty.
  Before time moves, an empty reading is confirmed one loop pass later, after the
  loop has polled its selector, so data already sitting on a socket counts as work.
  The probe itself wakes the next sleeper: one loop pass per wake at the same
  instant, two when time moves, and no task switch back to the driver.
* Event loops without an observable ready queue (e.g. uvloop) fall back to
  ``settle_rounds`` consecutive probe passes.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import math
import weakref
from collections.abc import Callable, Coroutine, Generator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, final

import anyio.lowlevel
import anyio.to_thread

from ._clock import NS_PER_SECOND, First, Ticks, seconds_to_ns
from ._park import Waiter, current_backend
from ._validate import is_int

if TYPE_CHECKING:
    import trio

__all__ = ["SimClock"]

P = ParamSpec("P")
R = TypeVar("R")

COMPACT_MIN: Final = 64
"""Cancelled heap entries tolerated before compaction is even considered.

Cancelled sleepers are deleted lazily; once they outnumber the live ones (and there
are at least this many) the heap is rebuilt, so compaction is amortised O(1) per
cancellation and a cancelled sleeper never slows later advances for long.
"""

_Entry = list[Any]  # [deadline_ns, seq, Waiter | None]


def _loop_ready_queue(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's queue of runnable callbacks, or None where it cannot be observed.

    asyncio offers no public idleness check. CPython's BaseEventLoop keeps its ready
    callbacks in ``_ready`` (since 3.4); we only ever read its length. A canary test
    (tests/test_simclock.py::test_asyncio_ready_queue_is_observable) fails loudly if
    that changes.
    """
    return getattr(loop, "_ready", None)


@final
class _Drive:
    """One advance (or run_until_idle) in progress on an asyncio loop."""

    __slots__ = ("done", "is_busy", "moves_time", "step")

    def __init__(
        self,
        step: Callable[[], bool],
        moves_time: Callable[[], bool],
        is_busy: Callable[[], bool],
        done: asyncio.Future[None],
    ) -> None:
        self.step = step
        self.moves_time = moves_time
        self.is_busy = is_busy
        self.done = done


@final
class _LoopMonitor:
    """The asyncio settle engine: one probe callback per event loop, shared by all drives.

    One probe per loop (not per clock) so that two SimClocks advanced at the same time,
    e.g. a nested supervisor's, do not each see the other's probe as pending work. At
    each quiescent point the newest drive takes one step, or finishes when it has
    nothing left; older drives wait for newer ones (trio does the same with a run-wide
    stack of drives).
    """

    __slots__ = (
        "__weakref__",
        "_armed",
        "_confirmed",
        "_drives",
        "_loop",
        "_quiet",
        "_ready",
        "rounds",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ready = _loop_ready_queue(loop)
        self._drives: list[_Drive] = []
        self._armed = False
        self._confirmed = False
        self._quiet = 0
        self.rounds = 1

    def add(self, drive: _Drive, settle_rounds: int) -> None:
        self._drives.append(drive)
        self.rounds = max(self.rounds, settle_rounds)
        self.rearm()

    def remove(self, drive: _Drive) -> None:
        if drive in self._drives:
            self._drives.remove(drive)

    def rearm(self) -> None:
        if not self._armed and self._drives:
            self._armed = True
            self._loop.call_soon(self._probe)

    def _is_quiet(self) -> bool:
        """Whether no callback is runnable; before time moves, confirmed one pass later."""
        if self._ready is None:
            self._quiet += 1
            if self._quiet < self.rounds:
                return False
            self._quiet = 0
            return True
        if self._ready:
            self._confirmed = False
            return False
        if self._confirmed or not self._drives[-1].moves_time():
            self._confirmed = False
            return True
        # Before time moves, look once more after the loop's next selector poll, so
        # data already waiting on a socket counts as runnable work.
        self._confirmed = True
        return False

    def _probe(self) -> None:
        self._armed = False
        drives = self._drives
        while drives and drives[-1].done.done():  # a cancelled advance
            drives.pop()
        if not drives:
            return
        if not self._is_quiet():
            self.rearm()
            return
        # The newest drive acts first: an advance started inside another (a nested
        # supervisor's clock) is work the outer clock must not move past.
        drive = drives[-1]
        if drive.is_busy():
            return  # its clock holds still; busy() re-arms us when the work ends
        if not drive.step():
            # Finished: its driver task runs next, before any older drive acts.
            drives.pop()
            drive.done.set_result(None)
        self.rearm()


_monitors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopMonitor] = (
    weakref.WeakKeyDictionary()
)


def _monitor(loop: asyncio.AbstractEventLoop) -> _LoopMonitor:
    monitor = _monitors.get(loop)
    if monitor is None:
        monitor = _monitors[loop] = _LoopMonitor(loop)
    return monitor


@final
class SimClock:
    """Virtual time for tests: it moves only when ``advance`` or ``advance_to`` is awaited.

    Time is kept as integer nanoseconds, so sums of sleeps are exact; ``now()`` returns
    float seconds. Sleepers wake in ``(deadline, registration order)`` order, and the
    program settles (every task blocked) before each wake and before ``advance``
    returns. See docs/concepts.md, "SimClock".
    """

    __slots__ = (
        "_advancing",
        "_busy",
        "_busy_zero",
        "_cancelled",
        "_heap",
        "_idle_waiters",
        "_live",
        "_monitor",
        "_now_ns",
        "_seq",
        "_trio_drive",
        "settle_rounds",
    )

    def __init__(self, t0: float = 0.0, *, settle_rounds: int = 8) -> None:
        if not is_int(settle_rounds):
            raise TypeError(f"settle_rounds must be an int, not {type(settle_rounds).__name__}")
        if settle_rounds < 1:
            raise ValueError(f"settle_rounds must be >= 1, got {settle_rounds}")
        self._now_ns = seconds_to_ns(t0, "SimClock t0")
        self.settle_rounds: int = settle_rounds
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._live = 0
        self._cancelled = 0
        self._busy = 0
        self._busy_zero: list[Callable[[], object]] = []
        self._advancing = False
        self._monitor: _LoopMonitor | None = None
        self._trio_drive: trio.Event | None = None  # set while this clock drives on trio
        self._idle_waiters: list[Waiter] = []

    def __repr__(self) -> str:
        return f"SimClock(now={self.now()!r}, pending={self._live})"

    # -- reading the time -------------------------------------------------------

    def now(self) -> float:
        """Current virtual time in seconds."""
        return self._now_ns / NS_PER_SECOND

    def now_ns(self) -> int:
        """Current virtual time in integer nanoseconds."""
        return self._now_ns

    @property
    def next_deadline(self) -> float | None:
        """Deadline of the earliest live sleeper, or None when nobody sleeps."""
        entry = self._next_live()
        return None if entry is None else entry[0] / NS_PER_SECOND

    @property
    def pending(self) -> int:
        """Number of live (not cancelled, not yet woken) sleepers."""
        return self._live

    # -- sleeping ----------------------------------------------------------------

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        """Sleep ``seconds`` of virtual time; ``<= 0`` is one checkpoint, ``inf`` forever."""
        # A plain function returning the coroutine saves a frame on the hot path.
        if seconds == math.inf:
            return anyio.sleep_forever()
        return self.sleep_until_ns(self._now_ns + seconds_to_ns(seconds, "sleep seconds"))

    def wait_until(self, deadline: float) -> Coroutine[Any, Any, None]:
        """Sleep until virtual time reaches ``deadline``; a past one is one checkpoint."""
        if deadline == math.inf:
            return anyio.sleep_forever()
        return self.sleep_until_ns(seconds_to_ns(deadline, "wait_until deadline"))

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        """Sleep until virtual time reaches ``deadline_ns`` nanoseconds."""
        if deadline_ns <= self._now_ns:
            await anyio.lowlevel.checkpoint()
            return
        waiter = Waiter()
        entry: _Entry = [deadline_ns, next(self._seq), waiter]
        heapq.heappush(self._heap, entry)
        self._live += 1

        def abort() -> None:
            if entry[2] is not None:
                entry[2] = None
                self._live -= 1
                self._cancelled += 1
                if self._cancelled >= COMPACT_MIN and self._cancelled > self._live:
                    self._compact()

        drive = self._trio_drive
        if (
            drive is not None
            and not self._busy
            and _trio_is_quiet()
            and _trio_drives()[-1] is drive
        ):
            # trio only: this task is the last runnable one and is about to park, so
            # the program is quiescent: pass the baton to the next sleeper due at
            # this same instant instead of a round trip through the driver (unless a
            # newer drive, e.g. a nested clock's, owns the quiescent point).
            self._wake_due(self._now_ns)
        await waiter.park(abort)

    def every(self, period: float, *, first: First = "after") -> Ticks:
        """Tick every ``period`` virtual seconds; the k-th tick is exactly ``start + k*period``."""
        return Ticks(self, period, first)

    # -- outside work ------------------------------------------------------------

    @contextmanager
    def busy(self) -> Generator[None]:
        """Hold virtual time still while outside work (a thread, real I/O) is in flight."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                callbacks, self._busy_zero = self._busy_zero, []
                for callback in callbacks:
                    callback()
                if self._monitor is not None:
                    self._monitor.rearm()

    async def run_sync(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` in a worker thread; virtual time does not move until it returns."""
        with self.busy():
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    # -- driving -----------------------------------------------------------------

    async def advance(self, dt: float) -> None:
        """Move virtual time forward by ``dt`` seconds, waking sleepers in order."""
        dt_ns = seconds_to_ns(dt, "advance dt")
        if dt_ns < 0:
            raise ValueError(f"advance() needs dt >= 0 (time never goes back), got {dt!r}")
        await self._drive(self._now_ns + dt_ns)

    async def advance_to(self, t: float) -> None:
        """Move virtual time forward to ``t``; a past ``t`` only settles the program."""
        await self._drive(max(self._now_ns, seconds_to_ns(t, "advance_to t")))

    async def run_until_idle(self) -> None:
        """Let every runnable task run until all are blocked, without moving time.

        May be called while another task is advancing the clock; it then returns at
        the next quiescent point of that advance.
        """
        if not self._advancing:
            await self._drive(self._now_ns)
        elif current_backend() == "trio":
            await self._drive_trio(self._now_ns, joining=True)
        else:
            waiter = Waiter()
            self._idle_waiters.append(waiter)
            await waiter.park(lambda: self._idle_waiters.remove(waiter))

    async def _drive(self, target_ns: int) -> None:
        if self._advancing:
            raise RuntimeError(
                "SimClock is already being advanced by another task; drive a clock from "
                "one task at a time"
            )
        self._advancing = True
        try:
            if current_backend() == "trio":
                await self._drive_trio(target_ns)
            else:
                await self._drive_asyncio(target_ns)
        finally:
            self._advancing = False
            self._trio_drive = None
            self._monitor = None

    async def _drive_asyncio(self, target_ns: int) -> None:
        loop = asyncio.get_running_loop()
        self._monitor = monitor = _monitor(loop)
        drive = _Drive(
            lambda: self._step(target_ns),
            self._moves_time,
            lambda: self._busy > 0,
            loop.create_future(),
        )
        monitor.add(drive, self.settle_rounds)
        try:
            await drive.done
        finally:
            monitor.remove(drive)

    async def _drive_trio(self, target_ns: int, *, joining: bool = False) -> None:
        """Settle and step until done; ``joining``: only settle, inside another drive."""
        import trio

        stack = _trio_drives()
        mine = trio.Event()  # set when this drive ends
        stack.append(mine)
        if not joining:
            self._trio_drive = mine
        try:
            while True:
                await self._settle_trio()
                if stack[-1] is not mine:
                    # A drive started later (a nested clock, a joining run_until_idle)
                    # owns this quiescent point.
                    await stack[-1].wait()
                    continue
                if joining or not self._step(target_ns):
                    return
        finally:
            stack.remove(mine)
            mine.set()

    async def _settle_trio(self) -> None:
        import trio
        import trio.testing

        while True:
            while self._busy:
                event = trio.Event()
                self._busy_zero.append(event.set)
                await event.wait()
            await trio.testing.wait_all_tasks_blocked()
            if not self._busy:
                return

    def _next_live(self) -> _Entry | None:
        """The earliest live heap entry (dropping cancelled ones on the way), or None."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        return heap[0] if heap else None

    def _moves_time(self) -> bool:
        """Whether the next step would move the time (or end the drive)."""
        if self._idle_waiters:
            return False
        entry = self._next_live()
        return entry is None or entry[0] != self._now_ns

    def _wake_due(self, target_ns: int) -> bool:
        """Wake the earliest live sleeper due by ``target_ns``; False if there is none."""
        while True:
            entry = self._next_live()
            if entry is None or entry[0] > target_ns:
                return False
            heapq.heappop(self._heap)
            waiter: Waiter = entry[2]
            entry[2] = None
            self._live -= 1
            self._now_ns = entry[0]
            if waiter.wake():
                return True
            # asyncio: cancelled but not yet resumed; its abort will find it gone.

    def _step(self, target_ns: int) -> bool:
        """At a quiescent point: release idle waiters, else wake the next due sleeper.

        Returns False, with the time moved to ``target_ns``, when nothing is left.
        """
        if self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.wake()
            return True
        if self._wake_due(target_ns):
            return True
        self._now_ns = max(self._now_ns, target_ns)
        return False

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if entry[2] is not None]
        heapq.heapify(self._heap)
        self._cancelled = 0


@functools.cache
def _trio_drives_var() -> trio.lowlevel.RunVar[list[trio.Event]]:
    import trio

    return trio.lowlevel.RunVar("tickwork_simclock_drives")


def _trio_drives() -> list[trio.Event]:
    """The drives in progress in this trio run, oldest first (one list per run)."""
    var = _trio_drives_var()
    try:
        return var.get()
    except LookupError:
        stack: list[trio.Event] = []
        var.set(stack)
        return stack


def _trio_is_quiet() -> bool:
    """True when no trio task is queued to run and no thread callback is pending."""
    import trio

    stats = trio.lowlevel.current_statistics()
    return stats.tasks_runnable == 0 and stats.run_sync_soon_queue_size == 0
