"""``serve_hosting``: systemd notify, the watchdog and the health endpoint for one supervisor."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, final

import anyio
import anyio.abc

from tickwork import Supervisor
from tickwork._validate import is_number

from ._monitor import STUCK_AFTER, HealthMonitor
from ._notify import SystemdNotifier

__all__ = ["STATUS_INTERVAL", "serve_hosting"]

STATUS_INTERVAL: Final = 1.0
"""Clock seconds between health evaluations (``STATUS=`` updates, stuck tracking).

One ``snapshot()`` a second costs about a millisecond per thousand daemons: well under
the 2% budget for a busy supervisor, and finer than any prober's period.
"""


async def serve_hosting(
    supervisor: Supervisor,
    *,
    notify: bool = True,
    health: str | None = None,
    stuck_after: float = STUCK_AFTER,
    interval: float = STATUS_INTERVAL,
    environ: Mapping[str, str] | None = None,
    task_status: anyio.abc.TaskStatus[str | None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Speak systemd's notify protocol and serve ``/livez``, ``/readyz``, ``/metrics``.

    Start it inside ``async with supervisor:`` in a task group of your own, and cancel
    that task group once the supervisor's block is done::

        async with anyio.create_task_group() as tg:
            async with supervisor:
                await tg.start(serve_hosting, supervisor, health="127.0.0.1:8081")
            tg.cancel_scope.cancel()

    ``start()`` returns the health endpoint's bound ``host:port`` (None without
    ``health``). Under systemd (``NOTIFY_SOCKET`` set, and ``notify``) it sends
    ``READY=1`` once every daemon's ``on_start`` returned, ``STATUS=`` whenever the
    summary line changes, ``STOPPING=1`` when a stop is requested, and ``WATCHDOG=1``
    every half ``WATCHDOG_USEC`` while the supervisor is ready (no daemon failed or
    stuck past ``stuck_after``). Every period runs on the supervisor's clock.
    ``health`` needs the ``http`` extra.
    """
    if not (is_number(interval) and math.isfinite(interval) and interval > 0):
        raise ValueError(f"serve_hosting() interval must be > 0 clock seconds, got {interval!r}")
    monitor = HealthMonitor(supervisor, stuck_after=stuck_after)
    notifier = SystemdNotifier.from_environ(environ) if notify else None
    if notifier is None and health is None:
        task_status.started(None)  # not under systemd and no endpoint: nothing to do
        return
    host = _Host(monitor, notifier, interval)
    try:
        async with anyio.create_task_group() as tg:
            bound: str | None = None
            if health is not None:
                from .http import serve_health

                bound = await tg.start(serve_health, monitor, health)
            tg.start_soon(host.run)
            task_status.started(bound)
    finally:
        host.close()


@final
class _Host:
    """The notify side of one ``serve_hosting`` call."""

    __slots__ = ("interval", "monitor", "notifier", "stopping_sent")

    def __init__(
        self, monitor: HealthMonitor, notifier: SystemdNotifier | None, interval: float
    ) -> None:
        self.monitor = monitor
        self.notifier = notifier
        self.interval = interval
        self.stopping_sent = False

    async def run(self) -> None:
        supervisor = self.monitor.supervisor
        await supervisor.wait_all_started()
        self.monitor.mark_started()
        notifier = self.notifier
        if notifier is None:
            await self._track()  # keeps the stuck bookkeeping current for /readyz
            return
        summary, _ = self.monitor.evaluate()
        line = summary.status_line()
        notifier.send("READY=1", f"STATUS={line}")
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._report_status, notifier, line)
            if notifier.watchdog_interval is not None:
                tg.start_soon(self._watchdog, notifier, notifier.watchdog_interval)
            await supervisor.stop_event.wait()
            self._send_stopping()
            tg.cancel_scope.cancel()

    def close(self) -> None:
        if self.notifier is not None:
            self._send_stopping()
            self.notifier.close()

    def _send_stopping(self) -> None:
        if self.notifier is not None and not self.stopping_sent:
            self.stopping_sent = True
            self.notifier.send("STOPPING=1", "STATUS=stopping")

    async def _track(self) -> None:
        async for _ in self.monitor.supervisor.clock.every(self.interval):
            self.monitor.evaluate()

    async def _report_status(self, notifier: SystemdNotifier, line: str) -> None:
        async for _ in self.monitor.supervisor.clock.every(self.interval):
            summary, _ = self.monitor.evaluate()
            new = summary.status_line()
            if new != line:
                notifier.send(f"STATUS={new}")
                line = new

    async def _watchdog(self, notifier: SystemdNotifier, period: float) -> None:
        """``WATCHDOG=1`` each period while ready; silence lets systemd restart us."""
        async for _ in self.monitor.supervisor.clock.every(period):
            summary, _ = self.monitor.evaluate()
            if summary.ready:
                notifier.send("WATCHDOG=1")
