"""What a supervisor reports about each daemon: ``DaemonHealth`` and its vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, final

__all__ = ["DaemonFailurePhase", "DaemonHealth", "DaemonState"]

DaemonState = Literal["starting", "running", "restarting", "stopped", "failed"]
DaemonFailurePhase = Literal["on_start", "run", "on_stop"]


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
