"""The Context handed to every daemon hook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import anyio

from ._clock import Clock
from ._logging import ClockAwareLoggerAdapter

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["Context"]


@final
@dataclass(frozen=True, slots=True)
class Context:
    """What a daemon hook gets: its clock, its own cancel scope, logger and stop signal.

    ``cancel_scope`` is this daemon's alone: cancelling it ends this daemon (it still
    gets ``on_stop``) and never its siblings. ``stop_event`` is shared by all daemons
    of the supervisor and is set when a stop is requested.
    """

    clock: Clock
    cancel_scope: anyio.CancelScope
    logger: ClockAwareLoggerAdapter
    name: str
    supervisor: Supervisor
    stop_event: anyio.Event

    @property
    def stopping(self) -> bool:
        """True once the supervisor was asked to stop."""
        return self.stop_event.is_set()
