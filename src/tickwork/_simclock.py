"""SimClock: virtual time that moves only at quiescent points, detached or attached.

Timers (sleeps and clock timeouts) sit in a heap keyed ``(deadline_ns, registration
seq)`` (``_timers.py``). A drive (``advance``, ``run_until_idle``, autojump,
``jump_when_idle``) fires them one at a time, and before each (and before an advance
returns) waits until the whole program is quiescent: every task blocked and no
outside work (``busy()``, worker threads, executor jobs) in flight.

How quiescence is observed (ADRs 0002, 0018):

* trio: ``trio.testing.wait_all_tasks_blocked()``, which the scheduler answers
  exactly, I/O included. Same-instant batches run in seeded order (``_sched.py``).
* asyncio: one probe callback per event loop reads whether the ready queue is empty.
  Before time moves, an empty reading is confirmed one loop pass later, after the
  loop has polled its selector, so data already sitting on a socket counts as work.
  The probe itself fires the next timer: one loop pass per wake at the same instant.
* Event loops without an observable ready queue (e.g. uvloop) fall back to
  ``settle_rounds`` consecutive probe passes.

Attached (``run`` / ``backend_options``, ``_attached.py``), the loop's own timers are
part of the schedule: a step moves to the earlier of the next clock timer and the
loop's next deadline.

This module holds the backend-neutral half (the heap, the instant, what one step
does, the outside-work counters); each backend's engine (``_engine.py``, ADR 0021)
finds the quiescent points and runs the drives.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, final

import anyio
import anyio.lowlevel
import anyio.to_thread

from ._attached import AttachedHost, LoopTimers, SimEventLoop, make_trio_clock, trio_instrument
from ._blocked import describe_blocked
from ._clock import MAX_NS, MAX_SECONDS, NS_PER_SECOND, First, Ticks, seconds_to_ns
from ._engine import DEADLOCK_AFTER, Engine, EngineHost
from ._engine_asyncio import AsyncioEngine
from ._engine_trio import TrioEngine
from ._exceptions import Deadlock
from ._park import Waiter, current_backend
from ._sched import SeededScheduling
from ._timers import Timer, TimerHeap
from ._validate import is_instance, is_int, is_number

if TYPE_CHECKING:
    import asyncio

__all__ = ["SimClock"]


def _in_event_loop() -> bool:
    if current_backend() == "trio":
        return True
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


P = ParamSpec("P")
R = TypeVar("R")


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
        "_attached",
        "_attached_engine",
        "_busy",
        "_busy_zero",
        "_deadlock",
        "_engines",
        "_idle_waiters",
        "_jump_poke",
        "_now_ns",
        "_run_scope",
        "_scheduling",
        "_threads",
        "_timers",
        "autojump",
        "seed",
        "settle_rounds",
    )

    def __init__(
        self, t0: float = 0.0, *, autojump: bool = False, seed: int = 0, settle_rounds: int = 8
    ) -> None:
        if not is_int(settle_rounds):
            raise TypeError(f"settle_rounds must be an int, not {type(settle_rounds).__name__}")
        if settle_rounds < 1:
            raise ValueError(f"settle_rounds must be >= 1, got {settle_rounds}")
        if not is_int(seed):
            raise TypeError(f"SimClock seed must be an int, not {type(seed).__name__}")
        if not is_instance(autojump, bool):
            raise TypeError(f"SimClock autojump must be a bool, not {type(autojump).__name__}")
        self._now_ns = seconds_to_ns(t0, "SimClock t0")
        self.settle_rounds: int = settle_rounds
        self.autojump: bool = autojump
        self.seed: int = seed
        self._scheduling = SeededScheduling(seed)
        self._attached: Literal["asyncio", "trio"] | None = None
        self._attached_engine: Engine | None = None
        self._engines: dict[str, Engine] = {}  # detached: one per backend used
        self._threads = 0  # attached asyncio: executor jobs in flight
        self._run_scope: anyio.CancelScope | None = None  # clock.run's, for Deadlock
        self._deadlock: Deadlock | None = None
        self._timers = TimerHeap()
        self._jump_poke: Callable[[], object] | None = None  # set while jump_when_idle drives
        self._busy = 0
        self._busy_zero: list[Callable[[], object]] = []
        self._advancing = False
        self._idle_waiters: list[Waiter] = []
        if _in_event_loop():
            self._engine()  # detached: its engine knows the creating task (for Deadlock)

    def __repr__(self) -> str:
        return f"SimClock(now={self.now()!r}, pending={self._timers.live})"

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
        timer = self._timers.peek()
        return None if timer is None else timer.deadline_ns / NS_PER_SECOND

    @property
    def pending(self) -> int:
        """Number of live (not cancelled, not yet due) sleepers and clock timeouts."""
        return self._timers.live

    # -- sleeping ----------------------------------------------------------------

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        """Sleep ``seconds`` of virtual time; ``<= 0`` is one checkpoint, ``inf`` forever."""
        # A plain function returning the coroutine saves a frame on the hot path.
        if seconds == math.inf or (is_number(seconds) and seconds > MAX_SECONDS):
            return anyio.sleep_forever()  # a huge finite sleep never ends either
        return self.sleep_until_ns(self._now_ns + seconds_to_ns(seconds, "sleep seconds"))

    def wait_until(self, deadline: float) -> Coroutine[Any, Any, None]:
        """Sleep until virtual time reaches ``deadline``; a past one is one checkpoint."""
        if deadline == math.inf or (is_number(deadline) and deadline > MAX_SECONDS):
            return anyio.sleep_forever()
        return self.sleep_until_ns(seconds_to_ns(deadline, "wait_until deadline"))

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        """Sleep until virtual time reaches ``deadline_ns`` nanoseconds."""
        if deadline_ns <= self._now_ns:
            await anyio.lowlevel.checkpoint()
            return
        if deadline_ns > MAX_NS:
            await anyio.sleep_forever()
        waiter = Waiter()
        timer = self._timers.push(deadline_ns, waiter)
        if self._jump_poke is not None:
            self._jump_poke()
        elif self.autojump:
            self._autojump_start()
        await waiter.park(functools.partial(self._timers.drop, timer))

    def every(self, period: float, *, first: First = "after") -> Ticks:
        """Tick every ``period`` virtual seconds; the k-th tick is exactly ``start + k*period``."""
        return Ticks(self, period, first)

    # -- timeouts ------------------------------------------------------------------

    def fail_after(self, seconds: float) -> contextlib.AbstractContextManager[anyio.CancelScope]:
        """Cancel the block after ``seconds`` of virtual time, then raise ``TimeoutError``."""
        return self._timeout(seconds, "fail_after seconds", raise_on_expiry=True)

    def move_on_after(self, seconds: float) -> contextlib.AbstractContextManager[anyio.CancelScope]:
        """Cancel the block quietly after ``seconds`` of virtual time."""
        return self._timeout(seconds, "move_on_after seconds", raise_on_expiry=False)

    @contextmanager
    def _timeout(
        self, seconds: float, what: str, *, raise_on_expiry: bool
    ) -> Generator[anyio.CancelScope]:
        # The deadline is a heap entry that cancels the scope instead of waking a task,
        # so it fires in (deadline, registration) order like any sleeper.
        never = seconds == math.inf or (is_number(seconds) and seconds > MAX_SECONDS)
        delay_ns = None if never else seconds_to_ns(seconds, what)
        if delay_ns is not None and self._now_ns + delay_ns > MAX_NS:
            delay_ns = None  # beyond the last instant: the deadline never comes
        scope = anyio.CancelScope()
        timer: Timer | None = None
        if delay_ns is not None:
            timer = self._timers.push(self._now_ns + max(delay_ns, 0), scope)
            if delay_ns <= 0:
                scope.cancel()
                self._timers.drop(timer)
                timer.fired = True
            elif self._jump_poke is not None:
                self._jump_poke()
            elif self.autojump:
                self._autojump_start()
        try:
            with scope:
                yield scope
        finally:
            if timer is not None:
                self._timers.drop(timer)
        if raise_on_expiry and timer is not None and timer.fired and scope.cancelled_caught:
            raise TimeoutError

    # -- outside work ------------------------------------------------------------

    @asynccontextmanager
    async def jump_when_idle(self) -> AsyncGenerator[None]:
        """While the block runs, jump to the next deadline whenever the program is quiescent.

        A no-op while another task drives this clock (or it autojumps anyway): that
        driver decides when time moves.
        """
        if self._advancing or self.autojump:
            yield
            return
        self._advancing = True
        try:
            async with self._engine().jumping() as poke:
                self._jump_poke = poke
                yield
        finally:
            self._jump_poke = None
            self._advancing = False

    def _engine(self) -> Engine:
        """The engine for this clock's loop: the attached one, else the running backend's."""
        if self._attached_engine is not None:
            return self._attached_engine
        backend = current_backend()
        engine = self._engines.get(backend)
        if engine is None:
            engine = (
                AsyncioEngine(self._engine_host())
                if backend == "asyncio"
                else TrioEngine(self._engine_host(), self._scheduling, attached=False)
            )
            self._engines[backend] = engine
        return engine

    def _autojump_start(self) -> None:
        """Start this autojump clock's drive on first use inside a running loop."""
        if self._advancing or not self.autojump:
            return
        self._advancing = True
        self._jump_poke = self._engine().start_autojump()

    @contextmanager
    def busy(self) -> Generator[None]:
        """Hold virtual time still while outside work (a thread, real I/O) is in flight."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._work_ended()

    def _work_ended(self) -> None:
        callbacks, self._busy_zero = self._busy_zero, []
        for callback in callbacks:
            callback()
        for engine in self._engines.values():
            engine.work_ended()

    def _is_busy(self) -> bool:
        """Outside work in flight: busy() blocks, executor jobs, default-limiter threads."""
        return self._holds_time() or self._engine().threads_busy()

    async def run_sync(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` in a worker thread; virtual time does not move until it returns."""
        with self.busy():
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    # -- attached mode -------------------------------------------------------------

    def backend_options(self, backend: str) -> dict[str, Any]:
        """``backend_options`` for :func:`anyio.run` that attach the loop to this clock."""
        if self._attached is not None:
            raise RuntimeError("this SimClock is already attached to an event loop; make a new one")
        if backend == "asyncio":
            return {"loop_factory": self._new_asyncio_loop}
        if backend == "trio":
            self._attached = "trio"
            self._attached_engine = engine = TrioEngine(
                self._engine_host(), self._scheduling, attached=True
            )
            self._engines["trio"] = engine
            return {
                "clock": make_trio_clock(self._attached_host()),
                "instruments": [trio_instrument(self._scheduling.enter, self._scheduling.exit)],
            }
        raise ValueError(f"SimClock backend must be 'asyncio' or 'trio', got {backend!r}")

    def run(
        self, fn: Callable[..., Coroutine[Any, Any, R]], *args: object, backend: str = "asyncio"
    ) -> R:
        """Run ``fn(*args)`` in a new event loop whose time is this clock; return its result."""
        options = self.backend_options(backend)

        async def main() -> R:
            with anyio.CancelScope() as scope:
                self._run_scope = scope
                try:
                    return await fn(*args)
                finally:
                    self._run_scope = None
            assert self._deadlock is not None  # only a deadlock cancels this scope
            raise self._deadlock

        return anyio.run(main, backend=backend, backend_options=options)

    def _new_asyncio_loop(self) -> asyncio.AbstractEventLoop:
        if self._attached is not None:
            raise RuntimeError("this SimClock is already attached to an event loop; make a new one")
        self._attached = "asyncio"
        timers = LoopTimers()
        loop = SimEventLoop(self._attached_host(), timers)
        self._attached_engine = engine = AsyncioEngine(self._engine_host(), loop, timers)
        self._engines["asyncio"] = engine
        if self.autojump:
            self._advancing = True
            self._jump_poke = engine.start_autojump()
        return loop

    # The hooks engines and attached loops call: private, handed over as callables.

    def _engine_host(self) -> EngineHost:
        return EngineHost(
            settle_rounds=self.settle_rounds,
            autojump=self.autojump,
            now=self.now,
            now_ns=self.now_ns,
            drive_step=self._drive_step,
            step_moves_time=self._step_moves_time,
            holds_time=self._holds_time,
            when_not_busy=self._when_not_busy,
            nothing_left=self._nothing_left,
            report_deadlock=self._report_deadlock,
            next_quiescent_point=self._next_quiescent_point,
        )

    def _attached_host(self) -> AttachedHost:
        return AttachedHost(
            now=self.now,
            now_ns=self.now_ns,
            loop_timer_added=self._loop_timer_added,
            thread_work=self._thread_work,
            idle_wait_expired=self._idle_wait_expired,
            io_poll_skippable=self._io_poll_skippable,
            trio_wants_deadline=self._trio_wants_deadline,
        )

    # AttachedHost: callbacks from the attached loop.

    def _loop_timer_added(self) -> None:
        """A loop timer was scheduled: an idle jump drive may now have somewhere to go."""
        if self._jump_poke is not None:
            self._jump_poke()

    def _thread_work(self, delta: int) -> None:
        """An executor job started (+1) or ended (-1)."""
        self._threads += delta
        if not self._threads:
            self._work_ended()

    def _idle_wait_expired(self) -> None:
        """The attached loop waited in real time and nothing arrived."""
        self._engine().idle_wait_expired()
        if self.autojump and self._nothing_left():
            self._report_deadlock()

    def _io_poll_skippable(self) -> bool:
        """A drive is waking timers due now: the loop need not poll I/O between them.

        The selector is polled again before time moves (and the asyncio monitor confirms
        quiescence after that poll), so I/O is still seen before any later instant.
        """
        return self._advancing and not self._step_moves_time()

    def _trio_wants_deadline(self) -> bool:
        """The attached trio run is idle with a deadline ahead: start autojump lazily.

        True when that spawned the jump task (the run must not wait, it has work).
        """
        if self.autojump and not self._advancing:
            self._autojump_start()
            return True
        return False

    # EngineHost: what the drive engines ask of the clock (ADR 0021).

    def _holds_time(self) -> bool:
        """``busy()`` blocks or attached executor jobs are in flight."""
        return bool(self._busy or self._threads)

    def _when_not_busy(self, callback: Callable[[], object]) -> bool:
        """If ``busy()`` blocks are open, call ``callback`` once they close; else False."""
        if not self._busy:
            return False
        self._busy_zero.append(callback)
        return True

    async def _next_quiescent_point(self) -> None:
        """Park until the running drive's next quiescent point."""
        waiter = Waiter()
        self._idle_waiters.append(waiter)
        await waiter.park(lambda: self._idle_waiters.remove(waiter))

    def _nothing_left(self) -> bool:
        """No timer, no loop deadline, no outside work: nothing can ever wake a task."""
        return (
            not self._timers.live
            and not self._idle_waiters
            and (self._attached is None or self._loop_next_ns() is None)
            and not self._is_busy()
        )

    def _report_deadlock(self) -> None:
        """Report a deadlock: through clock.run's scope; attached, raised here (out of the
        loop); detached, in the task that made the clock (asyncio) or the autojump task."""
        error = Deadlock(
            f"SimClock(autojump=True) at t={self.now()!r}: every task is blocked and nothing "
            f"is left to wake one (no deadline, no thread work, no I/O for "
            f"{DEADLOCK_AFTER} s of real time). Blocked: {describe_blocked()}. Fix: set the "
            "event, send the item or close the channel they wait for, or give them a deadline"
        )
        if self._run_scope is None:
            if self._attached is not None:
                raise error  # from the loop's selector or trio clock: out of anyio.run
            self._engine().deliver(error)
            return
        self._deadlock = error
        self._run_scope.cancel()

    # -- driving -----------------------------------------------------------------

    async def advance(self, dt: float) -> None:
        """Move virtual time forward by ``dt`` seconds, waking sleepers in order."""
        dt_ns = seconds_to_ns(dt, "advance dt")
        if dt_ns < 0:
            raise ValueError(f"advance() needs dt >= 0 (time never goes back), got {dt!r}")
        target_ns = self._now_ns + dt_ns
        if target_ns > MAX_NS:
            raise ValueError(
                f"advance({dt!r}) would pass the latest representable instant, "
                f"{MAX_SECONDS} s (2**63 - 1 ns); advance by less"
            )
        await self._drive(target_ns)

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
        else:
            await self._engine().join()

    async def _drive(self, target_ns: int) -> None:
        if self.autojump:
            # Time moves by itself; "advance" means: let the time pass, then settle.
            self._autojump_start()
            if target_ns > self._now_ns:
                await self.sleep_until_ns(target_ns)
            await self.run_until_idle()
            return
        if self._advancing:
            raise RuntimeError(
                "SimClock is already being advanced by another task; drive a clock from "
                "one task at a time"
            )
        self._advancing = True
        try:
            await self._engine().drive(target_ns)
        finally:
            self._advancing = False

    def _loop_next_ns(self) -> int | None:
        """The attached loop's own next timer after now (asyncio or trio), or None."""
        # Note: a timer due exactly now is the loop's to fire in its current pass.
        engine = self._attached_engine
        return None if engine is None else engine.loop_next_ns(self._now_ns)

    def _step_moves_time(self) -> bool:
        """Whether the next step would move the time (or end the drive)."""
        if self._idle_waiters:
            return False
        timer = self._timers.peek()
        return timer is None or timer.deadline_ns != self._now_ns

    def _wake_due(self, target_ns: int | None) -> bool:
        """Fire the earliest timer due by ``target_ns`` (None: any); False if none.

        Attached, the loop's own timers count too: the clock moves to the earliest
        one, and the loop fires it itself.
        """
        limit = MAX_NS if target_ns is None else target_ns
        while True:
            timer = self._timers.peek()
            # The loop's next timer is always after now, so a clock timer due now goes
            # first without asking the loop (a same-instant wake stays cheap).
            if self._attached is None or (timer is not None and timer.deadline_ns <= self._now_ns):
                loop_ns = None
            else:
                loop_ns = self._loop_next_ns()
            # A loop timer due with a clock sleeper goes first: the loop fires every
            # timer due at an instant in one pass, so it cannot wait.
            if (
                loop_ns is not None
                and loop_ns <= limit
                and (timer is None or loop_ns <= timer.deadline_ns)
            ):
                self._now_ns = loop_ns
                return True
            timer = self._timers.pop_due(limit)
            if timer is None:
                return False
            target = timer.target
            timer.target = None
            self._now_ns = timer.deadline_ns
            if isinstance(target, anyio.CancelScope):
                target.cancel()
                return True
            if target is not None and target.wake():
                return True
            # asyncio: cancelled but not yet resumed; its abort will find it gone.

    def _drive_step(self, target_ns: int | None) -> bool:
        """At a quiescent point: release idle waiters, else fire the next due timer.

        Returns False when nothing is left, with the time moved to ``target_ns`` (None:
        no bound, time stays).
        """
        if self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.wake()
            return True
        if self._wake_due(target_ns):
            return True
        if target_ns is not None:
            self._now_ns = max(self._now_ns, target_ns)
        return False
