"""The asyncio drive engine: one probe callback per event loop, shared by all drives.

A drive (an advance, a run_until_idle, an autojump) registers here; at each quiescent
point of the loop (its ready queue empty, confirmed after a selector poll before time
moves) the newest drive takes one step. ADR 0002, 0018 and 0021.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final, cast, final

import anyio
import anyio.to_thread

from ._attached import LoopTimers, SimEventLoop
from ._engine import DEADLOCK_AFTER, EngineHost, Poke

__all__ = ["THREAD_POLL", "AsyncioEngine", "Drive", "LoopMonitor", "loop_monitor"]

THREAD_POLL: Final = 0.001
"""Real seconds between looks at the thread limiters while worker threads hold time."""


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop
        return None


def _awaited_future(task: asyncio.Task[Any]) -> asyncio.Future[Any] | None:
    """The pending future ``task`` is suspended on (through awaited tasks), or None.

    asyncio has no public way to raise an exception inside a suspended task. A task
    keeps the future it waits for in ``_fut_waiter`` (CPython, since 3.4); we read it
    only to fail that one wait with Deadlock. Canary:
    tests/test_deadlock.py::test_asyncio_task_future_waiter_is_observable.
    """
    waiter: object = getattr(task, "_fut_waiter", None)
    while isinstance(waiter, asyncio.Task):
        waiter = cast(object, getattr(cast(object, waiter), "_fut_waiter", None))
    if isinstance(waiter, asyncio.Future):
        future = cast("asyncio.Future[Any]", waiter)
        return None if future.done() else future
    return None


def _loop_ready_queue(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's queue of runnable callbacks, or None where it cannot be observed.

    asyncio offers no public idleness check. CPython's BaseEventLoop keeps its ready
    callbacks in ``_ready`` (since 3.4); we only ever read its length. A canary test
    (tests/test_simclock.py::test_asyncio_ready_queue_is_observable) fails loudly if
    that changes.
    """
    return getattr(loop, "_ready", None)


@final
class Drive:
    """One advance (or run_until_idle) in progress on an asyncio loop."""

    __slots__ = ("done", "is_busy", "moves_time", "on_idle", "step", "unbounded")

    def __init__(
        self,
        step: Callable[[], bool],
        moves_time: Callable[[], bool],
        is_busy: Callable[[], bool],
        done: asyncio.Future[None],
        *,
        unbounded: bool = False,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self.step = step
        self.moves_time = moves_time
        self.is_busy = is_busy
        self.done = done
        self.unbounded = unbounded  # jump_when_idle: idles instead of finishing
        self.on_idle = on_idle  # an unbounded drive found nothing to do


@final
class LoopMonitor:
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
        "_held",
        "_loop",
        "_quiet",
        "_ready",
        "rounds",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ready = _loop_ready_queue(loop)
        self._drives: list[Drive] = []
        self._armed = False
        self._held = False  # the newest drive waits for outside work to end
        self._confirmed = False
        self._quiet = 0
        self.rounds = 1

    def add(self, drive: Drive, settle_rounds: int) -> None:
        self._drives.append(drive)
        self.rounds = max(self.rounds, settle_rounds)
        self.rearm()

    def remove(self, drive: Drive) -> None:
        if drive in self._drives:
            self._drives.remove(drive)

    def rearm(self) -> None:
        self._held = False
        if not self._armed and self._drives:
            self._armed = True
            self._loop.call_soon(self._probe)

    def recheck_held(self) -> None:
        """Look again at a drive held by outside work (a thread may have finished)."""
        if self._held:
            self.rearm()

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
            # Its clock holds still. busy() exit and finished executor jobs re-arm us;
            # anyio worker threads are noticed by polling (real time only: an attached
            # loop's selector re-checks after each wait instead).
            self._held = True
            if not isinstance(self._loop, SimEventLoop):
                self._loop.call_later(THREAD_POLL, self.recheck_held)
            return
        if not drive.step():
            if drive.unbounded:
                if drive.on_idle is not None:
                    drive.on_idle()
                return  # nothing to jump to; a new timer or busy() exit re-arms us
            # Finished: its driver task runs next, before any older drive acts.
            drives.pop()
            drive.done.set_result(None)
        self.rearm()


_monitors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopMonitor] = (
    weakref.WeakKeyDictionary()
)


def loop_monitor(loop: asyncio.AbstractEventLoop) -> LoopMonitor:
    monitor = _monitors.get(loop)
    if monitor is None:
        monitor = _monitors[loop] = LoopMonitor(loop)
    return monitor


@final
class AsyncioEngine:
    """Drives one SimClock on asyncio (the ``Engine`` interface of ``_engine.py``).

    Detached, each drive registers with the running loop's monitor. Attached, the
    engine is made with the loop (before it runs) and the loop's own timers.
    """

    __slots__ = ("_home", "_host", "_idle_checks", "_limiter", "_loop", "_monitor", "_timers")

    def __init__(
        self,
        host: EngineHost,
        loop: asyncio.AbstractEventLoop | None = None,
        timers: LoopTimers | None = None,
    ) -> None:
        self._host = host
        self._loop = loop
        self._timers = timers
        self._monitor: LoopMonitor | None = None  # the loop's, while a drive of ours runs
        # The running loop's default thread limiter, looked up once per drive: the
        # lookup (a RunVar through anyio's backend detection) cost ~15% of a wake.
        self._limiter: anyio.CapacityLimiter | None = None
        self._idle_checks = 0  # detached autojump: idle points seen, for the deadlock check
        # Detached: the task that first used the clock, where a Deadlock is raised.
        self._home = None if loop is not None else _current_task()

    def _is_busy(self) -> bool:
        return self._host.holds_time() or self.threads_busy()

    async def drive(self, target_ns: int) -> None:
        host = self._host
        loop = asyncio.get_running_loop()
        self._limiter = None  # this loop's, looked up on first use
        self._monitor = monitor = loop_monitor(loop)
        drive = Drive(
            lambda: host.drive_step(target_ns),
            host.step_moves_time,
            self._is_busy,
            loop.create_future(),
        )
        monitor.add(drive, host.settle_rounds)
        try:
            await drive.done
        finally:
            monitor.remove(drive)
            self._monitor = None

    async def join(self) -> None:
        await self._host.next_quiescent_point()

    def _start(
        self, loop: asyncio.AbstractEventLoop, *, autojump: bool = False
    ) -> tuple[LoopMonitor, Drive]:
        """Register an unbounded drive: it idles, instead of ending, when nothing is due."""
        host = self._host
        self._limiter = None
        self._monitor = monitor = loop_monitor(loop)
        # Detached, nothing polls an idle loop: autojump checks for deadlock itself.
        # (Attached, the loop's selector does, after each real-time wait.)
        watch = autojump and not isinstance(loop, SimEventLoop)
        drive = Drive(
            lambda: host.drive_step(None),
            host.step_moves_time,
            self._is_busy,
            loop.create_future(),
            unbounded=True,
            on_idle=functools.partial(self._idle, loop) if watch else None,
        )
        monitor.add(drive, host.settle_rounds)
        return monitor, drive

    @asynccontextmanager
    async def jumping(self) -> AsyncGenerator[Poke | None]:
        monitor, drive = self._start(asyncio.get_running_loop())
        try:
            yield monitor.rearm
        finally:
            drive.done.cancel()
            monitor.remove(drive)
            self._monitor = None

    def start_autojump(self) -> Poke | None:
        monitor, _ = self._start(self._loop or asyncio.get_running_loop(), autojump=True)
        return monitor.rearm

    def _idle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Detached autojump found nothing due: look again after DEADLOCK_AFTER real seconds."""
        self._idle_checks += 1
        loop.call_later(DEADLOCK_AFTER, self._check_deadlock, self._idle_checks)

    def _check_deadlock(self, check: int) -> None:
        # A later idle point has its own check; time moved or work came in meanwhile.
        if check == self._idle_checks and self._host.nothing_left():
            self._host.report_deadlock()

    def deliver(self, error: BaseException) -> None:
        """Raise ``error`` in the clock's home task (detached), where it waits."""
        task = self._home
        if task is None or task.done():
            task = next(
                (
                    t
                    for t in sorted(asyncio.all_tasks(), key=lambda t: t.get_name())
                    if not t.done()
                ),
                None,
            )
        if task is None:
            raise error
        awaited = _awaited_future(task)
        if awaited is not None:
            awaited.set_exception(error)
        else:  # not parked on a plain future: the cancellation carries the message
            task.cancel(str(error))

    def threads_busy(self) -> bool:
        limiter = self._limiter
        if limiter is None:
            limiter = self._limiter = anyio.to_thread.current_default_thread_limiter()
        return limiter.borrowed_tokens > 0

    def work_ended(self) -> None:
        if self._monitor is not None:
            self._monitor.rearm()

    def idle_wait_expired(self) -> None:
        if self._monitor is not None:
            self._monitor.recheck_held()

    def loop_next_ns(self, now_ns: int) -> int | None:
        return None if self._timers is None else self._timers.next_after_ns(now_ns)
