"""The Context handed to every daemon hook, and the narrow view of its supervisor."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, final

import anyio

from ._clock import Clock
from ._health import DaemonHealth
from ._logging import ClockAwareLoggerAdapter

__all__ = ["Context", "LoggerSource", "SupervisorHandle"]


class LoggerSource(Protocol):
    """Where a Context gets its logger from, on first use (see ADR 0005)."""

    @property
    def logger(self) -> ClockAwareLoggerAdapter: ...


class SupervisorHandle(Protocol):
    """What a daemon may do with its supervisor through ``ctx.supervisor``.

    A narrow view of :class:`tickwork.Supervisor`: ask for a stop, start a one-off
    sibling, wait for starts and read health. Holding the Supervisor itself gives the
    rest (``add`` of Daemon instances included).
    """

    @property
    def clock(self) -> Clock: ...

    @property
    def logger(self) -> logging.Logger: ...

    def signal_stop(self) -> None: ...

    async def stop(self, grace: float = ..., finalize_timeout: float = ...) -> None: ...

    def spawn(
        self,
        fn: Callable[..., Awaitable[None]],
        /,
        *args: Any,
        name: str | None = None,
        **kwargs: Any,
    ) -> str: ...

    async def wait_all_started(self) -> None: ...

    def snapshot(self) -> Mapping[str, DaemonHealth]: ...


@final
@dataclass(frozen=True, slots=True)
class Context:
    """What a daemon hook gets: its clock, its own cancel scope, logger and stop signal.

    ``cancel_scope`` is this daemon's alone: cancelling it ends this daemon (it still
    gets ``on_stop``) and never its siblings. ``stop_event`` is shared by all daemons
    of the supervisor and is set when a stop is requested. ``logger`` is created the
    first time it is used, so daemons that never log cost no Logger.
    """

    clock: Clock
    cancel_scope: anyio.CancelScope
    name: str
    supervisor: SupervisorHandle
    stop_event: anyio.Event
    _logger_source: LoggerSource = field(repr=False, compare=False)

    @property
    def logger(self) -> ClockAwareLoggerAdapter:
        """This daemon's clock-aware logger (see docs/concepts.md, Logging)."""
        return self._logger_source.logger

    @property
    def stopping(self) -> bool:
        """True once the supervisor was asked to stop."""
        return self.stop_event.is_set()
