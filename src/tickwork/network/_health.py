"""``HealthTicker``: periodic pings and idle reaping for many targets, failure-isolated."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Protocol, final, runtime_checkable

import anyio

from tickwork import Context, Daemon
from tickwork._internals import run_on_stop
from tickwork._restart import SlidingWindow
from tickwork._validate import check_seconds, is_instance, is_int

from ._util import race_deadline

__all__ = ["HealthTarget", "HealthTicker", "TargetHealth"]


@runtime_checkable
class HealthTarget(Protocol):
    """What a :class:`HealthTicker` watches: a connection, a pool, a session.

    ``ping()`` proves the target alive (raise to report a failure); ``in_flight`` is
    the number of operations now using it (while > 0 the ping is skipped: in-flight
    work is proof of life); ``reap_idle()`` releases idle resources and may be sync or
    async.
    """

    @property
    def in_flight(self) -> int:
        """Operations currently using the target."""
        ...

    async def ping(self) -> None:
        """Check the target; an exception (or a timeout) counts as one failure."""
        ...

    def reap_idle(self) -> object:
        """Close idle resources; may return an awaitable, which is awaited."""
        ...


@final
@dataclass(frozen=True, slots=True)
class TargetHealth:
    """One target as :meth:`HealthTicker.snapshot` saw it.

    ``degraded`` stays True from the moment more than ``max_failures`` failures fell
    within ``window`` seconds until :meth:`HealthTicker.reset` is called.
    """

    name: str
    degraded: bool
    failures: int
    recent_failures: int
    pings: int
    skipped: int
    last_ok: float | None
    last_failure: float | None
    last_error: BaseException | None


@final
class _Entry:
    __slots__ = (
        "degraded",
        "failure_times",
        "failures",
        "last_error",
        "last_failure",
        "last_ok",
        "name",
        "pings",
        "skipped",
        "target",
    )

    def __init__(self, name: str, target: HealthTarget, window: float) -> None:
        self.name = name
        self.target = target
        self.degraded = False
        self.failures = 0
        self.failure_times = SlidingWindow(window)
        self.pings = 0
        self.skipped = 0
        self.last_ok: float | None = None
        self.last_failure: float | None = None
        self.last_error: BaseException | None = None


@final
class HealthTicker(Daemon):
    """Every ``interval`` clock seconds, ping each registered target and reap idle ones.

    Targets are pinged concurrently, each bounded by ``ping_timeout`` clock seconds; a
    target with work in flight is skipped. A failure (exception or timeout) is logged
    and counted, and never stops the ticker or touches other targets. A target with
    more than ``max_failures`` failures within ``window`` seconds is marked degraded
    (see :meth:`snapshot`) until :meth:`reset`.
    """

    def __init__(
        self,
        *,
        interval: float = 30.0,
        ping_timeout: float = 10.0,
        max_failures: int = 3,
        window: float = 300.0,
        name: str = "health",
    ) -> None:
        self._interval = check_seconds(interval, "HealthTicker.interval", minimum=0.0)
        self._ping_timeout = check_seconds(ping_timeout, "HealthTicker.ping_timeout", minimum=0.0)
        self._window = check_seconds(window, "HealthTicker.window", minimum=0.0)
        for label, value in (("interval", interval), ("ping_timeout", ping_timeout)):
            if value <= 0:
                raise ValueError(f"HealthTicker.{label} must be > 0 seconds, got {value!r}")
        if not is_int(max_failures):
            raise TypeError(f"HealthTicker.max_failures must be an int, got {max_failures!r}")
        if max_failures < 0:
            raise ValueError(f"HealthTicker.max_failures must be >= 0, got {max_failures!r}")
        if not is_instance(name, str) or not name:
            raise ValueError(f"HealthTicker name must be a non-empty str, got {name!r}")
        self.name = name
        self._max_failures = max_failures
        self._entries: dict[str, _Entry] = {}
        self._ticks = 0
        self._counter = 0

    @property
    def interval(self) -> float:
        """Clock seconds between ticks."""
        return self._interval

    @property
    def ticks(self) -> int:
        """Ticks completed since the daemon started."""
        return self._ticks

    # -- targets ---------------------------------------------------------------------

    def register(self, target: HealthTarget, *, name: str | None = None) -> str:
        """Watch ``target`` from the next tick on; returns its (unique) name."""
        if not is_instance(target, HealthTarget):
            raise TypeError(
                f"HealthTicker.register() needs an object with async ping(), reap_idle() "
                f"and in_flight, got {target!r}"
            )
        if name is None:
            self._counter += 1
            name = f"{type(target).__name__}-{self._counter}"
        if not is_instance(name, str) or not name:
            raise ValueError(f"a target name must be a non-empty str, got {name!r}")
        if name in self._entries:
            raise ValueError(
                f"a target named {name!r} is already registered; pass a unique name=..."
            )
        self._entries[name] = _Entry(name, target, self._window)
        return name

    def unregister(self, name: str) -> None:
        """Stop watching the target ``name`` (KeyError if unknown)."""
        try:
            del self._entries[name]
        except KeyError:
            raise KeyError(f"no target named {name!r} is registered") from None

    def reset(self, name: str) -> None:
        """Clear the degraded mark and recent failures of target ``name``."""
        entry = self._entries.get(name)
        if entry is None:
            raise KeyError(f"no target named {name!r} is registered")
        entry.degraded = False
        entry.failure_times.clear()

    def snapshot(self) -> dict[str, TargetHealth]:
        """Health of every registered target, by name."""
        return {
            name: TargetHealth(
                name=name,
                degraded=e.degraded,
                failures=e.failures,
                recent_failures=len(e.failure_times),
                pings=e.pings,
                skipped=e.skipped,
                last_ok=e.last_ok,
                last_failure=e.last_failure,
                last_error=e.last_error,
            )
            for name, e in self._entries.items()
        }

    # -- the daemon ----------------------------------------------------------------------

    async def run(self, ctx: Context) -> None:
        """Tick until the supervisor stops this daemon."""
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_on_stop, ctx.stop_event, scope.cancel)
                async for _ in ctx.clock.every(self._interval):
                    await self.tick(ctx)

    async def tick(self, ctx: Context) -> None:
        """One round over every target, concurrently; never raises for a target's failure."""
        entries = list(self._entries.values())
        async with anyio.create_task_group() as tg:
            for entry in entries:
                tg.start_soon(self._visit, ctx, entry)
        self._ticks += 1

    async def _visit(self, ctx: Context, entry: _Entry) -> None:
        target = entry.target
        now = ctx.clock.now()
        try:
            busy = target.in_flight > 0
        except Exception as exc:
            self._failed(ctx, entry, "in_flight", exc)
            return
        if busy:
            entry.skipped += 1
            entry.last_ok = now
            return
        entry.pings += 1
        outcome = await race_deadline(ctx.clock, self._ping_timeout, target.ping)
        if outcome.timed_out:
            self._failed(
                ctx, entry, "ping", TimeoutError(f"ping took longer than {self._ping_timeout}s")
            )
        elif outcome.error is not None:
            self._failed(ctx, entry, "ping", outcome.error)
        else:
            entry.last_ok = ctx.clock.now()
        try:
            result = target.reap_idle()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self._failed(ctx, entry, "reap_idle", exc)

    def _failed(self, ctx: Context, entry: _Entry, what: str, exc: Exception) -> None:
        now = ctx.clock.now()
        entry.failures += 1
        entry.last_failure = now
        entry.last_error = exc
        recent = entry.failure_times.add(now)
        if not entry.degraded and recent > self._max_failures:
            entry.degraded = True
            ctx.logger.error(
                "target %r degraded: %d failures within %ss (max_failures=%d)",
                entry.name,
                recent,
                self._window,
                self._max_failures,
            )
        ctx.logger.warning("target %r: %s raised %s: %s", entry.name, what, type(exc).__name__, exc)
