"""``NetworkDaemon``: a daemon that watches an external service and reacts to outages."""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Final, TypeVar, final

import anyio
import anyio.abc

from tickwork import Context, Daemon
from tickwork._internals import run_on_stop
from tickwork._validate import check_seconds, is_instance, is_int

from ._backoff import Backoff
from ._status import NetworkStatus, StatusChange
from ._util import Outcome, race_deadline

__all__ = ["MIN_SETTING", "NetworkDaemon"]

MIN_SETTING: Final = 0.1
"""Smallest accepted value, in seconds, for every NetworkDaemon time setting.

Anything shorter turns a watch loop into a busy loop against the remote service.
"""

_T = TypeVar("_T")

_OWNER: Final = "NetworkDaemon"
_RESULTS: Final = (NetworkStatus.CONNECTED, NetworkStatus.NOT_CONNECTED, NetworkStatus.ERROR)


class NetworkDaemon(Daemon):
    """Watch an external service: check it, connect, notice outages, back off, retry.

    Subclass it and implement :meth:`check_network`; optionally :meth:`start_network`,
    :meth:`stop_network`, :meth:`on_connected`, :meth:`on_disconnected` and
    :meth:`while_connected`. Do not override :meth:`run`: it is the state machine.

    Every wait goes through ``ctx.clock``, so an outage replays under SimClock. Settings
    are keyword arguments (and validated properties): ``check_network_interval`` between
    checks while connected, ``check_network_timeout`` (a slower check counts as
    NOT_CONNECTED), ``network_error_wait_time`` after an exception in a hook, and
    ``backoff`` between attempts while disconnected. Each must be >= 0.1 s.

    Subclasses that define ``__init__`` must call ``super().__init__(...)``.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        check_network_interval: float = 10.0,
        check_network_timeout: float = 5.0,
        network_error_wait_time: float = 60.0,
        backoff: Backoff | None = None,
        history_limit: int = 1000,
    ) -> None:
        if name is not None:
            self.name = name
        self.check_network_interval = check_network_interval
        self.check_network_timeout = check_network_timeout
        self.network_error_wait_time = network_error_wait_time
        self.backoff = backoff if backoff is not None else Backoff()
        if not is_int(history_limit):
            raise TypeError(f"{_OWNER}.history_limit must be an int, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"{_OWNER}.history_limit must be >= 1, got {history_limit!r}")
        self._status = NetworkStatus.STOPPED
        self._history: deque[StatusChange] = deque(maxlen=history_limit)
        self._connects = 0
        self._disconnects = 0
        self._check_failures = 0
        self._checks = 0
        self._errors = 0
        self._connected_since: float | None = None
        self._last_error: BaseException | None = None
        self._session_open = False
        self._session_scope: anyio.CancelScope | None = None
        self._session_done: anyio.Event | None = None
        self._session_error: Exception | None = None
        self._interrupt: anyio.CancelScope | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    # -- settings ---------------------------------------------------------------------

    @property
    def check_network_interval(self) -> float:
        """Seconds between checks while connected (default 10)."""
        return self._check_network_interval

    @check_network_interval.setter
    def check_network_interval(self, value: float) -> None:
        self._check_network_interval = check_seconds(
            value, f"{_OWNER}.check_network_interval", minimum=MIN_SETTING
        )

    @property
    def check_network_timeout(self) -> float:
        """Clock seconds a check may take; a slower one counts as NOT_CONNECTED (default 5)."""
        return self._check_network_timeout

    @check_network_timeout.setter
    def check_network_timeout(self, value: float) -> None:
        self._check_network_timeout = check_seconds(
            value, f"{_OWNER}.check_network_timeout", minimum=MIN_SETTING
        )

    @property
    def network_error_wait_time(self) -> float:
        """Least seconds to wait after an exception in a hook (default 60)."""
        return self._network_error_wait_time

    @network_error_wait_time.setter
    def network_error_wait_time(self, value: float) -> None:
        self._network_error_wait_time = check_seconds(
            value, f"{_OWNER}.network_error_wait_time", minimum=MIN_SETTING
        )

    @property
    def backoff(self) -> Backoff:
        """Delays between attempts while disconnected; reset on every connection."""
        return self._backoff

    @backoff.setter
    def backoff(self, value: Backoff) -> None:
        if not is_instance(value, Backoff):
            raise TypeError(f"{_OWNER}.backoff must be a tickwork.network.Backoff, got {value!r}")
        if value.min < MIN_SETTING:
            raise ValueError(
                f"{_OWNER}.backoff.min must be >= {MIN_SETTING} seconds, got {value.min!r}"
            )
        self._backoff = value

    # -- observability ------------------------------------------------------------------

    @property
    def network_status(self) -> NetworkStatus:
        """The status the last check (or lifecycle step) wrote; STOPPED when not running."""
        return self._status

    @property
    def status_history(self) -> list[StatusChange]:
        """Recent status changes, oldest first, as ``(clock_time, old, new)`` tuples."""
        return list(self._history)

    @property
    def connects(self) -> int:
        """Connections made (``start_network`` succeeded)."""
        return self._connects

    @property
    def disconnects(self) -> int:
        """Connections ended, by a failed check, a hook error or a stop."""
        return self._disconnects

    @property
    def check_failures(self) -> int:
        """Checks that did not return CONNECTED (timeouts and exceptions included)."""
        return self._check_failures

    @property
    def checks(self) -> int:
        """Checks completed or timed out (each one wrote the status)."""
        return self._checks

    @property
    def errors(self) -> int:
        """Exceptions caught from hooks (each one logged and made the status ERROR)."""
        return self._errors

    @property
    def last_error(self) -> BaseException | None:
        """The most recent exception caught from a hook, if any."""
        return self._last_error

    @property
    def connected_since(self) -> float | None:
        """Clock time the current connection was made, or None when not connected."""
        return self._connected_since

    # -- hooks ----------------------------------------------------------------------------

    @abstractmethod
    async def check_network(self, ctx: Context) -> NetworkStatus:
        """Probe the service; return CONNECTED, NOT_CONNECTED or ERROR.

        An exception counts as ERROR; taking longer than ``check_network_timeout``
        counts as NOT_CONNECTED (the check is cancelled).
        """

    async def start_network(self, ctx: Context) -> None:
        """Set up the connection after a check passed; raising makes the status ERROR."""

    async def stop_network(self, ctx: Context) -> None:
        """Tear down what ``start_network`` set up; called once per successful start."""

    async def on_connected(self, ctx: Context) -> None:
        """Called after ``start_network`` succeeded; the default logs."""
        ctx.logger.info("%s: connected", ctx.name)

    async def on_disconnected(self, ctx: Context) -> None:
        """Called when a connection ends, before ``stop_network``; the default logs."""
        ctx.logger.info("%s: disconnected (%s)", ctx.name, self._status.name)

    async def while_connected(self, ctx: Context) -> None:
        """Work that runs only while connected, cancelled the moment a check fails.

        Returning early is fine (the connection stays up); raising is an ERROR that
        ends the connection and retries after ``network_error_wait_time``.
        """

    # -- the state machine ----------------------------------------------------------------

    @final
    async def run(self, ctx: Context) -> None:
        """Check, connect, watch and reconnect until the supervisor stops this daemon."""
        if not hasattr(self, "_history"):
            raise TypeError(
                f"{type(self).__name__}.__init__ did not call super().__init__(); "
                "NetworkDaemon needs it to set up its state"
            )
        self._backoff.reset()
        self._session_error = None
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(run_on_stop, ctx.stop_event, self._interrupt_on_stop)
                await self._loop(ctx)
                tg.cancel_scope.cancel()
        finally:
            self._tg = None

    async def on_stop(self, ctx: Context) -> None:
        """Disconnect (``on_disconnected``, ``stop_network``) and end STOPPED.

        Teardown lives here, in the three-hook contract, so the supervisor bounds it:
        shielded and cut off at ``stop(finalize_timeout=...)`` when the daemon was
        cancelled, and at ``grace`` plus ``finalize_timeout`` after a stop otherwise.
        Subclasses that override ``on_stop`` must await ``super().on_stop(ctx)``.
        """
        if not hasattr(self, "_history"):
            return  # run already reported the missing super().__init__()
        try:
            await self._shutdown(ctx)
        finally:
            self._status = NetworkStatus.STOPPED

    def _interrupt_on_stop(self) -> None:
        if self._interrupt is not None:
            self._interrupt.cancel()

    async def _loop(self, ctx: Context) -> None:
        self._set_status(ctx, NetworkStatus.NOT_CONNECTED)
        wait = 0.0
        while True:
            if wait > 0:
                await self._interruptible(ctx, partial(ctx.clock.sleep, wait))
            if ctx.stopping:
                return
            error = self._session_error
            if error is not None:
                self._session_error = None
                self._hook_failed(ctx, "while_connected", error)
                await self._end_session(ctx)
                wait = self._failure_wait(NetworkStatus.ERROR)
                continue
            wait = await self._check_once(ctx)

    async def _interruptible(self, ctx: Context, fn: Callable[[], Awaitable[_T]]) -> _T | None:
        """Run ``fn`` unless a stop or a while_connected failure interrupts it (-> None)."""
        with anyio.CancelScope() as scope:
            self._interrupt = scope
            if ctx.stopping or self._session_error is not None:
                scope.cancel()
            try:
                return await fn()
            finally:
                self._interrupt = None
        return None

    async def _check_once(self, ctx: Context) -> float:
        """One check; returns the clock seconds to wait before the next one."""
        connected = self._session_open
        if not connected:
            self._set_status(ctx, NetworkStatus.CONNECTING)
        outcome = await self._interruptible(
            ctx,
            lambda: race_deadline(
                ctx.clock, self._check_network_timeout, lambda: self.check_network(ctx)
            ),
        )
        if outcome is None:
            return 0.0  # stop or session failure: the loop decides
        self._checks += 1
        result = self._judge(ctx, outcome)
        if result is NetworkStatus.CONNECTED:
            if connected:
                self._set_status(ctx, NetworkStatus.CONNECTED)
                return self._check_network_interval
            return await self._connect(ctx)
        self._check_failures += 1
        self._set_status(ctx, result)
        if connected and not await self._end_session(ctx):
            result = NetworkStatus.ERROR
        return self._failure_wait(result)

    def _judge(self, ctx: Context, outcome: Outcome[NetworkStatus]) -> NetworkStatus:
        if outcome.timed_out:
            ctx.logger.warning(
                "%s: check_network took longer than check_network_timeout=%ss; "
                "counting it as NOT_CONNECTED",
                ctx.name,
                self._check_network_timeout,
            )
            return NetworkStatus.NOT_CONNECTED
        if outcome.error is not None:
            self._hook_failed(ctx, "check_network", outcome.error)
            return NetworkStatus.ERROR
        value: object = outcome.value
        if value in _RESULTS:
            assert isinstance(value, NetworkStatus)
            return value
        self._hook_failed(
            ctx,
            "check_network",
            TypeError(
                f"check_network must return NetworkStatus.CONNECTED, NOT_CONNECTED or ERROR, "
                f"got {value!r}"
            ),
        )
        return NetworkStatus.ERROR

    async def _connect(self, ctx: Context) -> float:
        try:
            await self.start_network(ctx)
        except Exception as exc:
            self._hook_failed(ctx, "start_network", exc)
            return self._failure_wait(NetworkStatus.ERROR)
        self._session_open = True
        self._connects += 1
        self._connected_since = ctx.clock.now()
        self._backoff.reset()
        self._set_status(ctx, NetworkStatus.CONNECTED)
        try:
            await self.on_connected(ctx)
        except Exception as exc:
            self._hook_failed(ctx, "on_connected", exc)
            await self._end_session(ctx)
            return self._failure_wait(NetworkStatus.ERROR)
        assert self._tg is not None
        scope = self._session_scope = anyio.CancelScope()
        done = self._session_done = anyio.Event()
        self._tg.start_soon(self._run_while_connected, ctx, scope, done)
        return self._check_network_interval

    async def _run_while_connected(
        self, ctx: Context, scope: anyio.CancelScope, done: anyio.Event
    ) -> None:
        try:
            with scope:
                try:
                    await self.while_connected(ctx)
                except Exception as exc:
                    if not scope.cancel_called:
                        self._session_error = exc
                        if self._interrupt is not None:
                            self._interrupt.cancel()
        finally:
            done.set()

    async def _end_session(self, ctx: Context, *, stopping: bool = False) -> bool:
        """Cancel while_connected, then on_disconnected and stop_network; False if one raised.

        A hook error makes the status ERROR, except while stopping (DISCONNECTING holds).
        """
        if not self._session_open:
            return True
        self._session_open = False
        self._disconnects += 1
        self._connected_since = None
        scope, done = self._session_scope, self._session_done
        self._session_scope = self._session_done = None
        if scope is not None and done is not None:
            scope.cancel()
            await done.wait()
        self._session_error = None
        ok = True
        for label, hook in (
            ("on_disconnected", self.on_disconnected),
            ("stop_network", self.stop_network),
        ):
            try:
                await hook(ctx)
            except Exception as exc:
                ok = False
                self._hook_failed(ctx, label, exc, set_status=not stopping)
        return ok

    async def _shutdown(self, ctx: Context) -> None:
        if self._status is NetworkStatus.STOPPED:
            return
        self._set_status(ctx, NetworkStatus.DISCONNECTING)
        try:
            await self._end_session(ctx, stopping=True)
        except anyio.get_cancelled_exc_class():
            ctx.logger.warning(
                "%s: on_disconnected/stop_network did not finish within the supervisor's "
                "finalize_timeout at stop; abandoned",
                ctx.name,
            )
            self._set_status(ctx, NetworkStatus.STOPPED)
            raise
        self._set_status(ctx, NetworkStatus.STOPPED)

    # -- bookkeeping --------------------------------------------------------------------

    def _failure_wait(self, result: NetworkStatus) -> float:
        delay = self._backoff.next()
        if result is NetworkStatus.ERROR:
            return max(delay, self._network_error_wait_time)
        return delay

    def _hook_failed(
        self, ctx: Context, hook: str, exc: Exception, *, set_status: bool = True
    ) -> None:
        self._errors += 1
        self._last_error = exc
        ctx.logger.error(
            "%s: %s raised %s: %s", ctx.name, hook, type(exc).__name__, exc, exc_info=exc
        )
        if set_status:
            self._set_status(ctx, NetworkStatus.ERROR)

    def _set_status(self, ctx: Context, new: NetworkStatus) -> None:
        old = self._status
        self._status = new
        if new is not old:
            self._history.append(StatusChange(ctx.clock.now(), old, new))
            ctx.logger.debug("%s: %s -> %s", ctx.name, old.name, new.name)
