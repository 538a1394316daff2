"""Run a Supervisor inside a task group someone else owns (a server, a framework)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import final

import anyio
import anyio.abc

from tickwork import DaemonError, DaemonHealth, Supervisor
from tickwork._validate import check_seconds, is_instance

__all__ = ["SupervisorHost"]


@final
class SupervisorHost:
    """Start a :class:`tickwork.Supervisor` in the caller's task group; stop it on demand.

    ``await host.start(tg)`` enters the supervisor in a new task of ``tg`` and returns
    once every daemon added so far has finished ``on_start``. If a daemon's
    ``on_start`` failed, ``start`` raises instead and ``tg`` is not affected: under
    ``on_error="shutdown"`` the supervisor's own ``ExceptionGroup`` (leaf
    :class:`tickwork.DaemonError`), under ``"ignore"`` a ``DaemonError`` naming the
    daemon (the supervisor is stopped first). Under ``"restart"`` a failing daemon is
    restarting, not failed, and ``start`` returns. Failures after start propagate into
    ``tg`` like any task's.

    ``await host.stop()`` calls ``on_stopping`` (sync or async) first, then
    ``supervisor.stop(grace, finalize_timeout)`` (seconds of the supervisor's clock;
    defaults from the constructor), and returns when the supervisor has exited. Idempotent; a no-op
    before ``start``.
    """

    __slots__ = (
        "_done",
        "_finalize_timeout",
        "_grace",
        "_stop_requested",
        "default_finalize_timeout",
        "default_grace",
        "on_stopping",
        "supervisor",
    )

    def __init__(
        self,
        supervisor: Supervisor,
        on_stopping: Callable[[], object] | None = None,
        default_grace: float = 0.0,
        default_finalize_timeout: float = 2.0,
    ) -> None:
        if not is_instance(supervisor, Supervisor):
            raise TypeError(f"supervisor must be a tickwork.Supervisor, got {supervisor!r}")
        self.supervisor: Supervisor = supervisor
        self.on_stopping: Callable[[], object] | None = on_stopping
        self.default_grace: float = check_seconds(default_grace, "default_grace")
        self.default_finalize_timeout: float = check_seconds(
            default_finalize_timeout, "default_finalize_timeout"
        )
        self._stop_requested: anyio.Event | None = None
        self._done: anyio.Event | None = None
        self._grace = self.default_grace
        self._finalize_timeout = self.default_finalize_timeout

    def __repr__(self) -> str:
        state = (
            "not started" if self._done is None else "stopped" if self._done.is_set() else "running"
        )
        return f"<SupervisorHost {state} {self.supervisor!r}>"

    async def start(self, tg: anyio.abc.TaskGroup) -> None:
        """Enter the supervisor in ``tg``; return after every ``on_start`` has finished."""
        if self._done is not None:
            raise RuntimeError("this SupervisorHost was already started; create a new one")
        self._stop_requested = anyio.Event()
        self._done = anyio.Event()
        await tg.start(self._serve, name="tickwork SupervisorHost")

    async def stop(
        self, *, grace: float | None = None, finalize_timeout: float | None = None
    ) -> None:
        """Run ``on_stopping``, stop the supervisor and wait until it has exited."""
        grace_s = self.default_grace if grace is None else check_seconds(grace, "grace")
        finalize_s = (
            self.default_finalize_timeout
            if finalize_timeout is None
            else check_seconds(finalize_timeout, "finalize_timeout")
        )
        if self._done is None or self._stop_requested is None:
            return
        if not self._stop_requested.is_set():
            self._grace, self._finalize_timeout = grace_s, finalize_s
            self._stop_requested.set()
        await self._done.wait()

    def snapshot(self) -> dict[str, DaemonHealth]:
        """The supervisor's :meth:`~tickwork.Supervisor.snapshot`."""
        return self.supervisor.snapshot()

    async def _serve(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        assert self._stop_requested is not None
        assert self._done is not None
        failed: list[DaemonHealth] = []
        try:
            async with self.supervisor as sup:
                await sup.wait_all_started()
                failed = [
                    health
                    for health in sup.snapshot().values()
                    if health.state == "failed" and health.last_error_phase == "on_start"
                ]
                if failed:
                    # Under "shutdown" the supervisor is already failing and cancels this
                    # body; under "ignore" we stop it and report the failure ourselves.
                    await sup.stop(self.default_grace, self.default_finalize_timeout)
                else:
                    task_status.started()
                    try:
                        await self._stop_requested.wait()
                    finally:
                        with anyio.CancelScope(shield=True):
                            try:
                                await self._call_on_stopping()
                            finally:
                                await sup.stop(self._grace, self._finalize_timeout)
        finally:
            self._done.set()
        if failed:
            health = failed[0]
            raise DaemonError(
                f"daemon {health.name!r} failed in on_start, so the supervisor did not "
                f"start: {type(health.last_error).__name__}: {health.last_error}",
                daemon=health.name,
            ) from health.last_error

    async def _call_on_stopping(self) -> None:
        if self.on_stopping is None:
            return
        result = self.on_stopping()
        if inspect.isawaitable(result):
            await result
