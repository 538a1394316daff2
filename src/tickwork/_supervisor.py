"""Supervisor: the structured-concurrency root that runs daemons under a policy."""

from __future__ import annotations

import logging
import math
import random
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, Self, final

import anyio
import anyio.abc
import anyio.lowlevel

from ._backoff import backoff_delay, validate_backoff
from ._clock import Clock, WallClock
from ._context import Context
from ._daemon import Daemon, DaemonFactory, FunctionDaemon
from ._exceptions import DaemonError, OnError
from ._logging import ClockAwareLoggerAdapter, child_logger
from ._simclock import SimClock
from ._validate import is_instance, is_int, is_number

__all__ = [
    "FINISHED_HISTORY",
    "DaemonFailurePhase",
    "DaemonHealth",
    "DaemonState",
    "RestartPolicy",
    "Supervisor",
]

DaemonState = Literal["starting", "running", "restarting", "stopped", "failed"]
DaemonFailurePhase = Literal["on_start", "run", "on_stop"]

FINISHED_HISTORY: Final = 1024
"""Finished daemons whose final health ``snapshot()`` still reports (oldest dropped first).

Bounded so a supervisor that spawns short-lived daemons with per-session names keeps a
constant footprint, while a test or an operator can still see how recent ones ended.
"""

_POLICIES: Final = ("shutdown", "restart", "ignore")

_INSIDE: ContextVar[tuple[Supervisor, ...]] = ContextVar("tickwork_inside", default=())
"""The supervisors whose daemons the current task belongs to (inherited by child tasks)."""


@final
@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How ``on_error="restart"`` waits and when it gives up.

    The n-th consecutive restart waits ``base * factor**n`` clock seconds, at most
    ``cap``, varied by +/- ``jitter`` (a fraction) drawn from ``random.Random`` seeded
    with ``seed`` and the daemon's name, so SimClock runs replay exactly. ``max_retries``
    bounds consecutive restarts; a daemon that ran ``reset_after`` seconds before
    failing starts afresh. ``max_restarts`` within ``period`` seconds is an OTP-style
    intensity limit that fails the daemon instead of restarting it in a busy loop.
    """

    base: float = 0.1
    factor: float = 2.0
    cap: float = 5.0
    max_retries: int | None = None
    jitter: float = 0.0
    seed: int | None = None
    reset_after: float | None = None
    max_restarts: int | None = None
    period: float = 5.0

    def __post_init__(self) -> None:
        validate_backoff(
            "RestartPolicy", base=self.base, factor=self.factor, cap=self.cap, jitter=self.jitter
        )
        for field, value in (
            ("max_retries", self.max_retries),
            ("max_restarts", self.max_restarts),
        ):
            if value is not None and not is_int(value):
                raise TypeError(f"RestartPolicy.{field} must be an int or None, got {value!r}")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError(
                f"RestartPolicy.max_retries must be >= 0 or None, got {self.max_retries}"
            )
        if self.max_restarts is not None and self.max_restarts < 1:
            raise ValueError(
                f"RestartPolicy.max_restarts must be >= 1 or None, got {self.max_restarts}"
            )
        if not (is_number(self.period) and math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"RestartPolicy.period must be > 0 seconds, got {self.period!r}")
        if self.reset_after is not None and not (
            is_number(self.reset_after) and math.isfinite(self.reset_after) and self.reset_after > 0
        ):
            raise ValueError(
                f"RestartPolicy.reset_after must be > 0 seconds or None, got {self.reset_after!r}"
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before consecutive restart number ``attempt`` (0-based)."""
        return backoff_delay(
            attempt, base=self.base, factor=self.factor, cap=self.cap, jitter=self.jitter, rng=rng
        )

    def rng_for(self, name: str) -> random.Random:
        """The jitter source for the daemon ``name``: reproducible when ``seed`` is set."""
        return random.Random(None if self.seed is None else f"{self.seed}:{name}")


@final
@dataclass(frozen=True, slots=True)
class DaemonHealth:
    """One daemon's state as :meth:`Supervisor.snapshot` saw it."""

    name: str
    state: DaemonState
    restart_count: int
    last_error: BaseException | None
    last_error_phase: DaemonFailurePhase | None
    started_at: float | None
    uptime: float | None


@final
class _Record:
    """A live daemon's bookkeeping; dropped (for a DaemonHealth) when it ends."""

    __slots__ = (
        "_logger",
        "attempt",
        "daemon",
        "finalizing",
        "last_error",
        "last_error_phase",
        "name",
        "owner",
        "restart_count",
        "restart_times",
        "rng",
        "scope",
        "seq",
        "start_pending",
        "started_at",
        "state",
    )

    def __init__(self, name: str, daemon: Daemon, seq: int, owner: Supervisor) -> None:
        self.name = name
        self.daemon = daemon
        self.seq = seq
        self.owner = owner
        self._logger: ClockAwareLoggerAdapter | None = None
        self.state: DaemonState = "starting"
        self.restart_count = 0
        self.attempt = 0
        self.last_error: BaseException | None = None
        self.last_error_phase: DaemonFailurePhase | None = None
        self.started_at: float | None = None
        self.scope: anyio.CancelScope | None = None
        self.finalizing = False
        self.start_pending = True
        self.rng: random.Random | None = None
        self.restart_times: deque[float] | None = None

    @property
    def logger(self) -> ClockAwareLoggerAdapter:
        """Created on first use: most daemons never log (ADR 0005)."""
        if self._logger is None:
            owner = self.owner
            self._logger = ClockAwareLoggerAdapter(
                child_logger(owner.logger, self.name), owner.clock
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
    """Internal signal: the attempt failed and the policy says restart."""


@final
class Supervisor:
    """Runs daemons in an anyio task group and applies an error policy to each.

    ``async with Supervisor(clock=clock) as sup: sup.add(MyDaemon())``. Leaving the
    block waits for the daemons; ``await sup.stop()`` asks them to stop (sets
    ``stop_event``), waits up to ``grace`` wall-clock seconds, then cancels the rest.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        on_error: OnError = "shutdown",
        restart: RestartPolicy | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if on_error not in _POLICIES:
            raise ValueError(f"on_error must be one of {', '.join(_POLICIES)}; got {on_error!r}")
        if restart is not None and not is_instance(restart, RestartPolicy):
            raise TypeError(f"restart must be a RestartPolicy, got {restart!r}")
        if clock is not None and not is_instance(clock, Clock):
            raise TypeError(
                f"clock must implement tickwork.Clock (e.g. WallClock()), got {clock!r}"
            )
        self._clock: Clock = clock if clock is not None else WallClock()
        self._on_error: OnError = on_error
        self._restart = restart if restart is not None else RestartPolicy()
        self._logger = logger if logger is not None else logging.getLogger("tickwork")
        self._records: dict[str, _Record] = {}
        self._finished: OrderedDict[str, DaemonHealth] = OrderedDict()
        self._pending: list[_Record] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._entered = False
        self._exited = False
        self._stop_requested = False
        self._stop_event: anyio.Event | None = None
        self._stop_done: anyio.Event | None = None
        self._all_done: anyio.Event | None = None
        self._live = 0
        self._seq = 0
        self._unstarted = 0
        self._start_waiters: list[_StartWaiter] = []
        self._finalize_timeout = 2.0
        self._cancelling = False

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
            return await self._tg.__aexit__(exc_type, exc, tb)
        finally:
            self._exited = True
            for waiter in self._start_waiters:
                waiter.event.set()
            self._start_waiters.clear()

    def add(self, daemon: Daemon, *, name: str | None = None) -> str:
        """Start ``daemon`` now (inside the block) or on entry; return its name."""
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
        if self._exited:
            raise RuntimeError("this Supervisor has exited; add daemons inside its 'async with'")
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
        record = _Record(resolved, daemon, self._seq, self)
        self._records[resolved] = record
        self._unstarted += 1
        if self._entered:
            self._launch(record)
        else:
            self._pending.append(record)
        return resolved

    def spawn(
        self, fn: Callable[..., Awaitable[None]], *args: Any, name: str | None = None, **kwargs: Any
    ) -> str:
        """Run ``fn(ctx, *args, **kwargs)`` as a one-off daemon; return its name."""
        if not callable(fn):
            raise TypeError(f"spawn() needs an async function taking ctx first, got {fn!r}")
        if is_instance(fn, DaemonFactory):
            raise TypeError(f"{fn!r} is a @daemon factory: use sup.add({fn.__name__}(...))")
        label = name if name is not None else getattr(fn, "__name__", type(fn).__name__)
        return self.add(FunctionDaemon(fn, label, args, kwargs), name=label)

    def signal_stop(self) -> None:
        """Ask every daemon to stop (sets ``stop_event``). Sync, idempotent, safe anywhere."""
        self._stop_requested = True
        if self._stop_event is not None and not self._stop_event.is_set():
            self._stop_event.set()
        for record in self._records.values():
            if record.state == "restarting" and record.scope is not None:
                record.scope.cancel()

    async def stop(self, grace: float = 5.0, finalize_timeout: float = 2.0) -> None:
        """Signal a stop, wait up to ``grace`` seconds, then cancel the daemons left.

        Both bounds are wall-clock seconds. Each cancelled daemon still gets ``on_stop``,
        shielded and bounded by ``finalize_timeout``, and so does an ``on_stop`` still
        running after its daemon returned. Under SimClock, once every daemon left is
        blocked the rest are cancelled at once rather than after ``grace``. Called from
        inside one of this supervisor's daemons (which cannot wait for itself), it
        signals, lets the stop finish in the background and returns at once.
        Idempotent; a no-op before entry and after exit.
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
            if self._stop_done is None:
                self._stop_done = anyio.Event()
                assert self._tg is not None
                self._tg.start_soon(
                    self._stop,
                    grace,
                    finalize_timeout,
                    self._stop_done,
                    name="tickwork supervisor stop",
                )
            return
        if self._stop_done is not None:
            await self._stop_done.wait()
            return
        self._stop_done = done = anyio.Event()
        await self._stop(grace, finalize_timeout, done)

    async def _stop(self, grace: float, finalize_timeout: float, done: anyio.Event) -> None:
        self._finalize_timeout = finalize_timeout
        try:
            self.signal_stop()
            if self._live:
                with anyio.move_on_after(grace):
                    await self._settle()
                self._cancelling = True
                for record in list(self._records.values()):
                    scope = record.scope
                    if scope is None:
                        continue
                    if record.finalizing:
                        # Already in on_stop after a normal return: bound it, like a
                        # cancelled daemon's shielded on_stop.
                        scope.deadline = min(
                            scope.deadline, anyio.current_time() + finalize_timeout
                        )
                    else:
                        scope.cancel()
            await self._wait_all_done()
        finally:
            done.set()

    async def _settle(self) -> None:
        """Wait until every daemon returned or, under SimClock, until all are blocked."""
        if isinstance(self._clock, SimClock):
            # Joins an advance in progress if another task is driving the clock.
            await self._clock.run_until_idle()
            return
        await self._wait_all_done()

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
        """Health of live daemons and the most recently finished ones, by name."""
        now = self._clock.now()
        result = dict(self._finished)
        for name, record in self._records.items():
            result[name] = record.health(now)
        return result

    # -- running one daemon ----------------------------------------------------------

    def _launch(self, record: _Record) -> None:
        assert self._tg is not None
        assert self._all_done is not None
        if self._all_done.is_set():
            self._all_done = anyio.Event()
        self._live += 1
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

    async def _supervise(self, record: _Record) -> None:
        _INSIDE.set((*_INSIDE.get(), self))
        try:
            while True:
                try:
                    await self._attempt(record)
                except _Restart as restart:
                    cause = restart.__cause__
                    assert isinstance(cause, Exception)
                    if not await self._back_off(record, cause):
                        return
                else:
                    return
        finally:
            if record.state not in ("stopped", "failed"):
                record.state = "stopped"  # cancelled from outside, e.g. during a backoff
            self._mark_started(record)
            self._records.pop(record.name, None)
            self._finished[record.name] = record.health(self._clock.now())
            while len(self._finished) > FINISHED_HISTORY:
                self._finished.popitem(last=False)
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
        daemon = record.daemon
        started = False
        error: Exception | None = None
        phase: DaemonFailurePhase = "run"
        try:
            with scope:
                try:
                    await daemon.on_start(ctx)
                except Exception as exc:
                    error, phase = exc, "on_start"
                else:
                    started = True
                    record.state = "running"
                    record.started_at = self._clock.now()
                self._mark_started(record)
                if started:
                    try:
                        await daemon.run(ctx)
                    except Exception as exc:
                        error = exc
                        # Recorded now: a cancellation during on_stop must not lose it.
                        record.last_error, record.last_error_phase = exc, "run"
        except BaseException:
            # Cancelled from outside (a sibling failed, the host left): clean up, go on.
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
        if started:
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
                    record.state = "stopped" if self._on_error == "restart" else "failed"
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
            if self._logger.isEnabledFor(logging.DEBUG):  # don't build the lazy logger for nothing
                record.logger.debug("daemon %r stopped", record.name)
            return
        self._fail(record, error, phase, "failed", restartable=True)

    async def _stop_plain(self, record: _Record, ctx: Context) -> Exception | None:
        """on_stop after run returned or failed; a stop() past its grace bounds it."""
        with anyio.CancelScope() as scope:
            if self._cancelling:
                scope.deadline = anyio.current_time() + self._finalize_timeout
            record.scope, record.finalizing = scope, True
            try:
                await record.daemon.on_stop(ctx)
            except Exception as exc:
                return exc
            finally:
                record.scope, record.finalizing = None, False
        if scope.cancelled_caught:
            self._warn_abandoned(record)
        return None

    async def _stop_shielded(self, record: _Record, ctx: Context) -> Exception | None:
        with anyio.move_on_after(self._finalize_timeout, shield=True) as scope:
            try:
                await record.daemon.on_stop(ctx)
            except Exception as exc:
                return exc
        if scope.cancelled_caught:
            self._warn_abandoned(record)
        return None

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
        if self._on_error == "ignore":
            record.state = "failed"
            record.logger.error("%s; ignored", message, exc_info=error)
            return
        if self._on_error == "restart" and restartable:
            raise _Restart from error
        record.state = "failed"
        raise DaemonError(message, daemon=record.name) from error

    async def _back_off(self, record: _Record, error: Exception) -> bool:
        """Wait before a restart; False if a stop arrived meanwhile. Raises at the limits."""
        policy = self._restart
        now = self._clock.now()
        if (
            policy.reset_after is not None
            and record.started_at is not None
            and now - record.started_at >= policy.reset_after
        ):
            record.attempt = 0
        if policy.max_retries is not None and record.attempt >= policy.max_retries:
            record.state = "failed"
            raise DaemonError(
                f"daemon {record.name!r} exceeded max_retries={policy.max_retries}: "
                f"{type(error).__name__}: {error}",
                daemon=record.name,
            ) from error
        if policy.max_restarts is not None:
            times = record.restart_times
            if times is None:
                times = record.restart_times = deque()
            while times and times[0] <= now - policy.period:
                times.popleft()
            if len(times) >= policy.max_restarts:
                record.state = "failed"
                raise DaemonError(
                    f"daemon {record.name!r} exceeded max_restarts={policy.max_restarts} "
                    f"within period={policy.period}s: {type(error).__name__}: {error}",
                    daemon=record.name,
                ) from error
            times.append(now)
        if self._stop_requested:
            record.state = "stopped"  # a stop is under way: no restart, none counted
            return False
        if record.rng is None:
            record.rng = policy.rng_for(record.name)
        delay = policy.delay(record.attempt, record.rng)
        record.attempt += 1
        record.restart_count += 1
        record.state = "restarting"
        record.started_at = None
        record.logger.warning(
            "daemon %r failed (%s: %s); restart %d in %.3fs",
            record.name,
            type(error).__name__,
            error,
            record.restart_count,
            delay,
        )
        with anyio.CancelScope() as scope:
            record.scope = scope
            await self._clock.sleep(delay)
        record.scope = None
        if scope.cancel_called or self._stop_requested:
            record.state = "stopped"
            return False
        return True
