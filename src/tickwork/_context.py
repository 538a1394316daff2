"""The Context handed to every daemon hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, final

import anyio

from ._clock import Clock
from ._logging import ClockAwareLoggerAdapter

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["Context", "LoggerSource"]


class LoggerSource(Protocol):
    """Where a Context gets its logger from, on first use (see ADR 0005)."""

    @property
    def logger(self) -> ClockAwareLoggerAdapter: ...


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
    supervisor: Supervisor
    stop_event: anyio.Event
    _logger_source: LoggerSource = field(repr=False, compare=False)

    @property
    def logger(self) -> ClockAwareLoggerAdapter:
        """This daemon's clock-aware logger, on a child of the supervisor's logger."""
        return self._logger_source.logger

    @property
    def stopping(self) -> bool:
        """True once the supervisor was asked to stop."""
        return self.stop_event.is_set()
