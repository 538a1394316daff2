"""Supervisor: the structured-concurrency root that runs daemons under a policy."""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, Literal, Self, final

import anyio
import anyio.abc
import anyio.lowlevel

from ._clock import Clock, WallClock
from ._context import Context
from ._daemon import Daemon, DaemonFactory, FunctionDaemon
from ._exceptions import DaemonError, OnError
from ._health import DaemonFailurePhase, DaemonHealth, DaemonState
from ._logging import NO_DAEMON, ClockAwareLoggerAdapter, child_logger, library_logger
from ._restart import RestartPolicy, RestartTracker, SlidingWindow, validate_intensity
from ._validate import is_instance, is_number

__all__ = ["FINISHED_HISTORY", "Strategy", "Supervisor"]

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
"""Which daemons a restart takes along, as in Erlang/OTP (see ADR 0023)."""

FINISHED_HISTORY: Final = 1024
"""Finished daemons whose final health ``snapshot()`` still reports (oldest dropped first).

Bounded so a supervisor that spawns short-lived daemons with per-session names keeps a
constant footprint, while a test or an operator can still see how recent ones ended.
"""

_POLICIES: Final = ("shutdown", "restart", "ignore")
_STRATEGIES: Final = ("one_for_one", "one_for_all", "rest_for_one")
_FATAL: Final = (KeyboardInterrupt, SystemExit)

_DEFAULT_ON_START: Final = Daemon.on_start
_DEFAULT_ON_STOP: Final = Daemon.on_stop
_DEFAULT_HOSTED_HEALTH: Final = Daemon.hosted_health
"""The base class's no-op hooks: a daemon that keeps one skips the call (and, for
``on_stop``, its cleanup scope)."""

_INSIDE: ContextVar[tuple[Supervisor, ...]] = ContextVar("tickwork_inside", default=())
"""The supervisors whose daemons the current task belongs to (inherited by child tasks)."""


@final
class _Record:
    """A live daemon's bookkeeping; dropped (for a DaemonHealth) when it ends."""

    __slots__ = (
        "_logger",
        "begun",
        "daemon",
        "ended",
        "ending",
        "finalizing",
        "held",
        "last_error",
        "last_error_phase",
        "name",
        "on_error",
        "owner",
        "parked",
        "permanent",
        "policy",
        "release",
        "restart_count",
        "scope",
        "seq",
        "start_pending",
        "started_at",
        "state",
        "tracker",
    )

    def __init__(
        self,
        name: str,
        daemon: Daemon,
        seq: int,
        owner: Supervisor,
        *,
        on_error: OnError,
        policy: RestartPolicy,
        permanent: bool,
    ) -> None:
        self.name = name
        self.daemon = daemon
        self.seq = seq
        self.owner = owner
        self.on_error: OnError = on_error
        self.policy = policy
        self.permanent = permanent
        self.tracker: RestartTracker | None = None
        self._logger: ClockAwareLoggerAdapter | None = None
        self.state: DaemonState = "starting"
        self.restart_count = 0
        self.last_error: BaseException | None = None
        self.last_error_phase: DaemonFailurePhase | None = None
        self.started_at: float | None = None
        self.scope: anyio.CancelScope | None = None
        self.finalizing = False
        self.ending = False
        self.start_pending = True
        # Group restarts (one_for_all / rest_for_one): claimed by a coordinator, parked
        # until it releases the daemon; ``begun`` tells it the next attempt started.
        self.held = False
        self.parked: anyio.Event | None = None
        self.release: anyio.Event | None = None
        self.begun: anyio.Event | None = None
        self.ended: anyio.Event | None = None

    @property
    def logger(self) -> ClockAwareLoggerAdapter:
        """Created on first use: most daemons never log (ADR 0005)."""
        if self._logger is None:
            owner = self.owner
            self._logger = ClockAwareLoggerAdapter(
                child_logger(owner.logger, self.name), owner.clock, {"daemon": self.name}
            )
        return self._logger

    def health(self, now: float) -> DaemonHealth:
        running = self.state == "running" and self.started_at is not None
        return DaemonHealth(
            name=self.name,
            state=self.state,
            restart_count=self.restart_count,
            last_error=self.last_error,
            last_error_phase=self.last_error_phase,
            started_at=self.started_at,
            uptime=now - self.started_at if running and self.started_at is not None else None,
        )


@final
class _StartWaiter:
    __slots__ = ("event", "remaining", "seq")

    def __init__(self, seq: int, remaining: int) -> None:
        self.seq = seq
        self.remaining = remaining
        self.event = anyio.Event()


class _Restart(Exception):
    """Internal signal: the attempt ended and the policy says restart (cause: the error)."""


def _check_policy(on_error: object, restart: object, strategy: object) -> None:
    if on_error is not None and on_error not in _POLICIES:
        raise ValueError(f"on_error must be one of {', '.join(_POLICIES)}; got {on_error!r}")
    if restart is not None and not is_instance(restart, RestartPolicy):
        raise TypeError(f"restart must be a RestartPolicy, got {restart!r}")
    if strategy is not None and strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(_STRATEGIES)}; got {strategy!r}")


@final
class Supervisor:
    """Runs daemons in an anyio task group and applies an error policy to each.

    ``async with Supervisor(clock=clock) as sup: sup.add(MyDaemon())``. Leaving the
    block waits for the daemons; ``await sup.stop()`` asks them to stop (sets
    ``stop_event``), waits up to ``grace`` seconds, then cancels the rest in reverse
    add order. ``strategy`` says which daemons a restart takes along (Erlang/OTP's
    one_for_one, one_for_all, rest_for_one); ``max_restarts`` within ``period`` clock
    seconds bounds the restarts of all daemons together: past it the supervisor fails.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        on_error: OnError = "shutdown",
        restart: RestartPolicy | None = None,
        logger: logging.Logger | None = None,
        strategy: Strategy = "one_for_one",
        max_restarts: int | None = None,
        period: float = 5.0,
    ) -> None:
        if on_error not in _POLICIES:
            raise ValueError(f"on_error must be one of {', '.join(_POLICIES)}; got {on_error!r}")
        _check_policy(on_error, restart, strategy)
        validate_intensity("Supervisor", max_restarts, period)
        if clock is not None and not is_instance(clock, Clock):
            raise TypeError(
                f"clock must implement tickwork.Clock (e.g. WallClock()), got {clock!r}"
            )
        if logger is not None and not is_instance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger, got {logger!r}")
        self._clock: Clock = clock if clock is not None else WallClock()
        self._on_error: OnError = on_error
        self._restart = restart if restart is not None else RestartPolicy()
        self._strategy: Strategy = strategy
        self._max_restarts = max_restarts
        self._period = period
        self._intensity = SlidingWindow(period) if max_restarts is not None else None
        self._logger = logger if logger is not None else library_logger("tickwork")
        self._log = ClockAwareLoggerAdapter(self._logger, self._clock, {"daemon": NO_DAEMON})
        self._records: dict[str, _Record] = {}
        self._finished: OrderedDict[str, DaemonHealth] = OrderedDict()
        self._pending: list[_Record] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._entered = False
        self._exited = False
        self._stop_requested = False
        self._stop_event: anyio.Event | None = None
        self._stop_leader = False
        self._stop_finished = False
        self._stop_progress: anyio.Event | None = None
        self._all_done: anyio.Event | None = None
        self._live = 0
        self._seq = 0
        self._unstarted = 0
        self._start_waiters: list[_StartWaiter] = []
        self._finalize_timeout = 2.0
        self._cancelling = False
        self._fatal: BaseException | None = None
        self._group_lock: anyio.Lock | None = None
        self._coordinators: set[anyio.CancelScope] = set()
        self._start_queue: deque[_Record] = deque()
        self._inside: tuple[Supervisor, ...] = ()

    def __repr__(self) -> str:
        return f"<Supervisor {len(self._records)} live daemons, clock={self._clock!r}>"

    # -- properties ----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock every daemon of this supervisor gets as ``ctx.clock``."""
        return self._clock

    @property
    def logger(self) -> logging.Logger:
        """The parent logger of every daemon's ``ctx.logger``."""
        return self._logger

    @property
    def strategy(self) -> Strategy:
        """Which daemons a restart takes along."""
        return self._strategy

    @property
    def stop_event(self) -> anyio.Event:
        """Set when a stop is requested. Only exists inside ``async with``."""
        if self._stop_event is None:
            raise RuntimeError(
                "Supervisor.stop_event exists only inside 'async with Supervisor()'; "
                "use signal_stop() to request a stop before entry"
            )
        return self._stop_event

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a Supervisor can be entered only once; create a new one")
        self._stop_event = anyio.Event()
        if self._stop_requested:
            self._stop_event.set()
        # The chain of supervisors the daemons belong to: computed once, not per task.
        self._inside = (*_INSIDE.get(), self)
        self._all_done = anyio.Event()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._entered = True
        pending, self._pending = self._pending, []
        for record in pending:
            self._launch(record)
        if not self._live:
            self._all_done.set()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        try:
            result = await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._exited = True
            for waiter in self._start_waiters:
                waiter.event.set()
            self._start_waiters.clear()
            self._stop_finished = True
            if self._stop_progress is not None:
                self._stop_progress.set()
        fatal = self._fatal
        if fatal is not None:
            # The same on both backends: the bare KeyboardInterrupt / SystemExit, after
            # every sibling's on_stop (ADR 0025).
            self._fatal = None
            raise fatal
        return result

    def add(
        self,
        daemon: Daemon,
        *,
        name: str | None = None,
        on_error: OnError | None = None,
        restart: RestartPolicy | None = None,
        permanent: bool = False,
    ) -> str:
        """Start ``daemon`` now (inside the block) or on entry; return its name.

        ``on_error`` and ``restart`` override the supervisor's for this daemon;
        ``permanent=True`` restarts it also when ``run`` returns, until stop.
        """
        if is_instance(daemon, DaemonFactory):
            raise TypeError(
                f"{daemon!r} is a @daemon factory, not a Daemon: call it first, e.g. "
                f"sup.add({daemon.__name__}(...))"
            )
        if isinstance(daemon, type) and issubclass(daemon, Daemon):
            raise TypeError(
                f"Supervisor.add() got the class {daemon.__name__}; pass an instance: "
                f"sup.add({daemon.__name__}())"
            )
        if not is_instance(daemon, Daemon):
            raise TypeError(
                f"Supervisor.add() needs a tickwork.Daemon instance, got {type(daemon).__name__}: "
                f"{daemon!r}; wrap a coroutine function with @daemon or use spawn()"
            )
        _check_policy(on_error, restart, None)
        if not is_instance(permanent, bool):
            raise TypeError(f"add() permanent must be a bool, got {permanent!r}")
        if self._exited:
            raise RuntimeError("this Supervisor has exited; add daemons inside its 'async with'")
        if self._stop_requested:
            raise RuntimeError(
                "the supervisor is stopping (stop() or signal_stop() was called): it "
                "accepts no new daemons; add them before the stop or to a new Supervisor"
            )
        resolved = name if name is not None else (daemon.name or type(daemon).__name__)
        if not is_instance(resolved, str) or not resolved:
            raise ValueError(f"a daemon name must be a non-empty str, got {resolved!r}")
        if resolved in self._records:
            raise ValueError(
                f"a daemon named {resolved!r} is already running under this supervisor; "
                "give each daemon a unique name (add(daemon, name=...))"
            )
        self._finished.pop(resolved, None)
        self._seq += 1
        record = _Record(
            resolved,
            daemon,
            self._seq,
            self,
            on_error=on_error if on_error is not None else self._on_error,
            policy=restart if restart is not None else self._restart,
            permanent=permanent,
        )
        self._records[resolved] = record
        self._unstarted += 1
        if self._entered:
            self._launch(record)
        else:
            self._pending.append(record)
        return resolved

    def spawn(
        self,
        fn: Callable[..., Awaitable[None]],
        /,
        *args: Any,
        name: str | None = None,
        on_error: OnError | None = None,
        restart: RestartPolicy | None = None,
        permanent: bool = False,
        **kwargs: Any,
    ) -> str:
        """Run ``fn(ctx, *args, **kwargs)`` as a one-off daemon; return its name.

        The keywords ``name``, ``on_error``, ``restart`` and ``permanent`` are the
        same as :meth:`add`'s and are not passed to ``fn``.
        """
        if not callable(fn):
            raise TypeError(f"spawn() needs an async function taking ctx first, got {fn!r}")
        if is_instance(fn, DaemonFactory):
            raise TypeError(f"{fn!r} is a @daemon factory: use sup.add({fn.__name__}(...))")
        label = name if name is not None else getattr(fn, "__name__", type(fn).__name__)
        return self.add(
            FunctionDaemon(fn, label, args, kwargs),
            name=label,
            on_error=on_error,
            restart=restart,
            permanent=permanent,
        )

    def signal_stop(self) -> None:
        """Ask every daemon to stop (sets ``stop_event``). Sync, idempotent, safe anywhere."""
        self._stop_requested = True
        if self._stop_event is not None and not self._stop_event.is_set():
            self._stop_event.set()
        for record in self._records.values():
            if record.state == "restarting" and record.scope is not None:
                record.scope.cancel()
        for scope in self._coordinators:
            scope.cancel()

    async def stop(self, grace: float = 5.0, finalize_timeout: float = 2.0) -> None:
        """Signal a stop, wait up to ``grace`` seconds, then cancel the daemons left.

        Each cancelled daemon still gets ``on_stop``, shielded and bounded by
        ``finalize_timeout``, in reverse add order, and so does an ``on_stop`` still
        running after its daemon returned. Both bounds are seconds of the supervisor's
        clock: virtual under SimClock, where stop() lets the clock jump to the next
        deadline whenever everything is blocked and nobody else drives it. Called from
        inside one of this supervisor's daemons (which cannot wait for itself), it
        signals, lets the stop finish in the background and returns at once.
        Idempotent; a no-op before entry and after exit. A ``stop()`` that is itself
        cancelled leaves the supervisor stoppable by the next call.
        """
        for label, value in (("grace", grace), ("finalize_timeout", finalize_timeout)):
            if not (is_number(value) and math.isfinite(value) and value >= 0):
                raise ValueError(f"stop() {label} must be >= 0 seconds, got {value!r}")
        if not self._entered or self._exited:
            return
        if self in _INSIDE.get():
            # Called from one of our own daemons (or a task it started): it cannot wait
            # for itself, so signal, finish the stop in the background and return.
            self.signal_stop()
            if not self._stop_leader and not self._stop_finished:
                self._stop_leader = True
                assert self._tg is not None
                self._tg.start_soon(
                    self._lead_stop, grace, finalize_timeout, name="tickwork supervisor stop"
                )
            return
        while not self._stop_finished:
            if not self._stop_leader:
                await self._lead_stop(grace, finalize_timeout)
                return
            # Another stop() leads: wait until it finishes, or is cancelled (then lead).
            assert self._stop_progress is not None
            await self._stop_progress.wait()

    async def _lead_stop(self, grace: float, finalize_timeout: float) -> None:
        """Run the stop; if this is cancelled, a waiting or later stop() takes over."""
        self._stop_leader = True
        progress = self._stop_progress = anyio.Event()
        try:
            await self._stop(grace, finalize_timeout)
            self._stop_finished = True
        finally:
            self._stop_leader = False
            progress.set()

    async def _stop(self, grace: float, finalize_timeout: float) -> None:
        self._finalize_timeout = finalize_timeout
        self.signal_stop()
        if not self._live:
            return
        # Both bounds are on the supervisor's clock; an undriven virtual clock jumps
        # to the next deadline whenever everything is blocked (ADR 0024).
        async with self._clock.jump_when_idle():
            with self._clock.move_on_after(grace):
                await self._wait_all_done()
            if not self._live:
                return
            self._cancelling = True
            left = sorted(self._records.values(), key=lambda r: r.seq, reverse=True)
            self._log.warning(
                "stop: grace=%ss ran out; cancelling %d daemons (in reverse add order): %s",
                grace,
                len(left),
                ", ".join(r.name for r in left),
            )
            for record in left:
                await self._end_one(record)
            await self._wait_all_done()

    async def _end_one(self, record: _Record) -> None:
        """Cancel ``record`` (or bound its on_stop) and wait until it has ended."""
        if record.name not in self._records:
            return
        ended = record.ended
        if ended is None:
            ended = record.ended = anyio.Event()
        if record.finalizing:
            # Already in on_stop after a normal return: bound it, like a cancelled
            # daemon's shielded on_stop.
            with self._clock.move_on_after(self._finalize_timeout):
                await ended.wait()
                return
        if record.scope is not None:
            record.scope.cancel()
        await ended.wait()

    async def _wait_all_done(self) -> None:
        while self._live:
            assert self._all_done is not None
            await self._all_done.wait()

    async def wait_all_started(self) -> None:
        """Return once every daemon added so far has finished ``on_start`` (either way)."""
        if not self._entered or self._exited or not self._unstarted:
            await anyio.lowlevel.checkpoint()
            return
        waiter = _StartWaiter(self._seq, self._unstarted)
        self._start_waiters.append(waiter)
        await waiter.event.wait()

    def snapshot(self) -> dict[str, DaemonHealth]:
        """Health of live daemons and the most recently finished ones, by name.

        A live daemon that hosts others elsewhere (``Daemon.hosted_health``, e.g. a
        ``tickwork.cluster.ProcessDaemon``) adds one entry per hosted daemon, named
        ``"<daemon>/<hosted>"``.
        """
        now = self._clock.now()
        result = dict(self._finished)
        for name, record in self._records.items():
            result[name] = record.health(now)
            daemon = record.daemon
            if type(daemon).hosted_health is not _DEFAULT_HOSTED_HEALTH:
                for hosted in daemon.hosted_health():
                    key = f"{name}/{hosted.name}"
                    result.setdefault(key, replace(hosted, name=key))
        return result

    # -- running one daemon ----------------------------------------------------------

    def _launch(self, record: _Record) -> None:
        assert self._tg is not None
        assert self._all_done is not None
        if self._all_done.is_set():
            self._all_done = anyio.Event()
        self._live += 1
        self._start_queue.append(record)
        self._tg.start_soon(self._supervise, record, name=record.name)

    def _mark_started(self, record: _Record) -> None:
        if not record.start_pending:
            return
        record.start_pending = False
        self._unstarted -= 1
        if self._start_waiters:
            for waiter in self._start_waiters:
                if record.seq <= waiter.seq:
                    waiter.remaining -= 1
                    if not waiter.remaining:
                        waiter.event.set()
            self._start_waiters = [w for w in self._start_waiters if w.remaining]

    async def _await_turn(self, record: _Record) -> None:
        """Begin the first on_start in add order, whatever order the scheduler runs tasks.

        Tasks that run in add order (asyncio's FIFO) pass straight through; one that
        runs early (trio may reverse a batch) waits until its predecessors have begun.
        """
        queue = self._start_queue
        if queue[0] is not record:
            gate = record.release = anyio.Event()
            try:
                await gate.wait()
            except BaseException:
                record.release = None
                queue.remove(record)
                self._wake_next_start()
                raise
            record.release = None
        queue.popleft()
        self._wake_next_start()

    def _wake_next_start(self) -> None:
        queue = self._start_queue
        if queue:
            gate = queue[0].release
            if gate is not None:
                gate.set()

    async def _supervise(self, record: _Record) -> None:
        _INSIDE.set(self._inside)
        try:
            queue = self._start_queue
            if queue[0] is record:  # the usual case: no coroutine, no wait
                queue.popleft()
                self._wake_next_start()
            else:
                await self._await_turn(record)
            while True:
                try:
                    await self._attempt(record)
                except _Restart as restart:
                    if record.held:
                        if not await self._park(record):
                            return
                        continue
                    if not await self._restart_after(record, restart.__cause__):
                        return
                    continue
                if record.held and not record.ending:
                    if not await self._park(record):
                        return
                    continue
                return
        except _FATAL as exc:
            # Not a cancellation: record it, stop the siblings, re-raise from __aexit__.
            record.state = "failed"
            if self._fatal is None:
                self._fatal = exc
            self._log.error(
                "daemon %r raised %s; cancelling every daemon, then re-raising it",
                record.name,
                type(exc).__name__,
                extra={"daemon": record.name},
            )
            assert self._tg is not None
            self._tg.cancel_scope.cancel()
        finally:
            if record.state not in ("stopped", "failed"):
                record.state = "stopped"  # cancelled from outside, e.g. during a backoff
            self._mark_started(record)
            self._records.pop(record.name, None)
            self._finished[record.name] = record.health(self._clock.now())
            while len(self._finished) > FINISHED_HISTORY:
                self._finished.popitem(last=False)
            for event in (record.parked, record.begun, record.ended):
                if event is not None:
                    event.set()
            self._live -= 1
            if not self._live and self._all_done is not None:
                self._all_done.set()

    async def _attempt(self, record: _Record) -> None:
        """One on_start/run/on_stop cycle; raises _Restart when the policy says so."""
        assert self._stop_event is not None
        scope = anyio.CancelScope()
        record.scope = scope
        ctx = Context(self._clock, scope, record.name, self, self._stop_event, record)
        record.state = "starting"
        record.ending = False
        daemon = record.daemon
        started = False
        error: Exception | None = None
        phase: DaemonFailurePhase = "run"
        begun = record.begun
        if begun is not None:
            record.begun = None
            begun.set()
        try:
            with scope:
                try:
                    if type(daemon).on_start is not _DEFAULT_ON_START:
                        await daemon.on_start(ctx)
                except Exception as exc:
                    error, phase = exc, "on_start"
                else:
                    started = True
                    record.state = "running"
                    record.started_at = self._clock.now()
                self._mark_started(record)
                if started:
                    phase = "run"
                    try:
                        await daemon.run(ctx)
                    except Exception as exc:
                        error = exc
                        # Recorded now: a cancellation during on_stop must not lose it.
                        record.last_error, record.last_error_phase = exc, "run"
        except BaseException as exc:
            # Cancelled from outside (a sibling failed, the host left), or a
            # KeyboardInterrupt / SystemExit: clean up, then let it go on.
            if isinstance(exc, _FATAL):
                record.state = "failed"
                record.last_error = exc
                record.last_error_phase = "run" if started else "on_start"
            else:
                record.state = "stopped"
            if started:
                cleanup_error = await self._stop_shielded(record, ctx)
                if cleanup_error is not None:
                    record.last_error, record.last_error_phase = cleanup_error, "on_stop"
                    record.logger.error(
                        "daemon %r on_stop failed while cancelled",
                        record.name,
                        exc_info=cleanup_error,
                    )
            raise
        finally:
            record.scope = None
        if started and type(daemon).on_stop is not _DEFAULT_ON_STOP:
            if error is None and not record.permanent and not scope.cancel_called:
                record.ending = True  # returned by itself: a group restart leaves it be
            try:
                cleanup_error = await (
                    self._stop_shielded(record, ctx)
                    if scope.cancel_called
                    else self._stop_plain(record, ctx)
                )
            except BaseException:
                if error is not None:
                    # Cancelled from outside during on_stop after run failed: the
                    # failure cannot be raised any more, but it must not vanish. (Under
                    # "restart" it would have been restarted: it ends "stopped", as when
                    # cancelled during the backoff.)
                    record.state = "stopped" if record.on_error == "restart" else "failed"
                    record.logger.error(
                        "daemon %r failed (%s: %s) and was cancelled during on_stop",
                        record.name,
                        type(error).__name__,
                        error,
                        exc_info=error,
                    )
                raise
            if cleanup_error is not None:
                self._fail(record, cleanup_error, "on_stop", "cleanup failed", restartable=False)
                return  # "ignore": the daemon ends here
        if error is None:
            record.state = "stopped"
            if record.permanent and not scope.cancel_called and not self._stop_requested:
                raise _Restart  # OTP's permanent child: restarted even after a return
            if self._logger.isEnabledFor(logging.DEBUG):  # don't build the lazy logger for nothing
                record.logger.debug("daemon %r stopped", record.name)
            return
        self._fail(record, error, phase, "failed", restartable=True)

    async def _stop_plain(self, record: _Record, ctx: Context) -> Exception | None:
        """on_stop after run returned or failed; a stop() past its grace bounds it."""
        with anyio.CancelScope() as scope:
            record.scope, record.finalizing = scope, True
            try:
                return await self._bounded_on_stop(record, ctx, bounded=self._cancelling)
            finally:
                record.scope, record.finalizing = None, False
        self._warn_abandoned(record)  # cancelled by stop() once finalize_timeout ran out
        return None

    async def _stop_shielded(self, record: _Record, ctx: Context) -> Exception | None:
        with anyio.CancelScope(shield=True):
            return await self._bounded_on_stop(record, ctx, bounded=True)

    async def _bounded_on_stop(
        self, record: _Record, ctx: Context, *, bounded: bool
    ) -> Exception | None:
        """Run on_stop, at most ``finalize_timeout`` clock seconds when ``bounded``."""
        clock = self._clock
        started_at = clock.now()
        with clock.move_on_after(self._finalize_timeout if bounded else math.inf) as scope:
            try:
                await record.daemon.on_stop(ctx)
            except Exception as exc:
                return exc
        if scope.cancelled_caught:
            self._warn_abandoned(record)
        else:
            self._note_slow_stop(record, started_at)
        return None

    def _note_slow_stop(self, record: _Record, started_at: float) -> None:
        took = self._clock.now() - started_at
        if took > self._finalize_timeout / 2:
            record.logger.warning(
                "daemon %r on_stop was slow: %.3fs (finalize_timeout=%ss)",
                record.name,
                took,
                self._finalize_timeout,
            )

    def _warn_abandoned(self, record: _Record) -> None:
        record.logger.warning(
            "daemon %r on_stop did not finish within finalize_timeout=%ss; abandoned",
            record.name,
            self._finalize_timeout,
        )

    def _fail(
        self,
        record: _Record,
        error: Exception,
        phase: DaemonFailurePhase,
        what: str,
        *,
        restartable: bool,
    ) -> None:
        record.last_error, record.last_error_phase = error, phase
        message = f"daemon {record.name!r} {what}: {type(error).__name__}: {error} (in {phase})"
        if record.on_error == "ignore":
            record.state = "failed"
            record.logger.error("%s; ignored", message, exc_info=error)
            return
        if record.on_error == "restart" and restartable:
            raise _Restart from error
        record.state = "failed"
        raise DaemonError(message, daemon=record.name) from error

    # -- restarts ---------------------------------------------------------------------

    async def _restart_after(self, record: _Record, cause: BaseException | None) -> bool:
        """Apply the limits and the strategy to one restart; False when the daemon ends."""
        now = self._clock.now()
        tracker = record.tracker
        if tracker is None:
            tracker = record.tracker = RestartTracker(record.name, record.policy)
        try:
            tracker.check(now, record.started_at, cause)
        except DaemonError as exc:
            record.state = "failed"
            record.logger.error("%s; restart intensity limit reached", exc)
            raise exc from cause
        intensity = self._intensity
        if intensity is not None and intensity.count(now) >= (self._max_restarts or 0):
            record.state = "failed"
            reason = "returned" if cause is None else f"{type(cause).__name__}: {cause}"
            message = (
                f"supervisor exceeded max_restarts={self._max_restarts} within "
                f"period={self._period}s (daemon {record.name!r} {reason}); "
                "stopping every daemon"
            )
            self._log.error("%s", message, extra={"daemon": record.name})
            raise DaemonError(message, daemon=record.name) from cause
        if self._stop_requested:
            record.state = "stopped"  # a stop is under way: no restart, none counted
            return False
        delay = tracker.next_delay(now)
        if intensity is not None:
            intensity.add(now)
        self._mark_restarting(record)
        reason = (
            "returned (permanent)" if cause is None else f"failed ({type(cause).__name__}: {cause})"
        )
        record.logger.warning(
            "daemon %r %s; restart %d in %.3fs (%s)",
            record.name,
            reason,
            record.restart_count,
            delay,
            self._strategy,
        )
        if self._strategy == "one_for_one":
            with anyio.CancelScope() as scope:
                record.scope = scope
                await self._clock.sleep(delay)
            record.scope = None
            if record.held:
                return await self._park(record)
            if scope.cancel_called or self._stop_requested:
                record.state = "stopped"
                return False
            return True
        record.held = True
        assert self._tg is not None
        self._tg.start_soon(self._coordinate, record, delay, name="tickwork group restart")
        return await self._park(record)

    def _mark_restarting(self, record: _Record) -> None:
        record.restart_count += 1
        record.state = "restarting"
        record.started_at = None

    async def _park(self, record: _Record) -> bool:
        """Wait for a group restart to release ``record``; False if a stop came first."""
        release = record.release = anyio.Event()
        record.state = "restarting"
        record.started_at = None
        parked = record.parked
        if parked is not None:
            parked.set()
        with anyio.CancelScope() as scope:
            record.scope = scope
            if self._stop_requested:
                scope.cancel()
            await release.wait()
        record.scope = None
        record.release = None
        record.held = False
        if scope.cancel_called or self._stop_requested:
            record.state = "stopped"
            return False
        return True

    async def _coordinate(self, trigger: _Record, delay: float) -> None:
        """Stop the trigger's group in reverse add order, wait, restart it in add order."""
        if self._group_lock is None:
            self._group_lock = anyio.Lock()
        with anyio.CancelScope() as scope:
            self._coordinators.add(scope)
            try:
                async with self._group_lock:
                    if self._stop_requested:
                        scope.cancel()
                    group = [
                        r
                        for r in self._records.values()
                        if r is not trigger
                        and not r.held
                        and not r.ending
                        and (self._strategy == "one_for_all" or r.seq > trigger.seq)
                    ]
                    for sibling in reversed(group):
                        await self._claim(sibling)
                    await self._clock.sleep(delay)
                    members = sorted(
                        (r for r in (trigger, *group) if r.release is not None),
                        key=lambda r: r.seq,
                    )
                    for member in members:
                        await self._release(member)
            finally:
                self._coordinators.discard(scope)
        if scope.cancel_called:
            for member in (trigger, *self._records.values()):
                if member.held and member.scope is not None:
                    member.scope.cancel()

    async def _claim(self, record: _Record) -> None:
        """Take ``record`` into a group restart: end its attempt and wait until it parks."""
        parked = record.parked = anyio.Event()
        record.held = True
        scope = record.scope
        if scope is not None and not record.finalizing:
            scope.cancel()  # its attempt (on_stop still runs) or its one_for_one backoff
        await parked.wait()
        record.parked = None
        if record.name in self._records and record.release is not None:
            self._mark_restarting(record)

    async def _release(self, record: _Record) -> None:
        """Let a parked ``record`` run its next attempt; wait until it has begun."""
        release = record.release
        if release is None:
            return
        begun = record.begun = anyio.Event()
        release.set()
        await begun.wait()  # set as its on_start begins, or as it ends
