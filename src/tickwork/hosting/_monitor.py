"""From ``Supervisor.snapshot()`` to one verdict: ready (and so watchdog-worthy) or not.

A daemon is *settled* when it is running and its restart count did not change since
the previous evaluation. One that stays unsettled (restarting, starting again, or
crash-looping through short runs) for longer than ``stuck_after`` clock seconds is
*stuck*. The process is ready once every daemon's ``on_start`` has returned, while no
daemon has failed, none is stuck and no stop was requested.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Final, final, get_args

from tickwork import DaemonHealth, DaemonState, Supervisor
from tickwork._validate import is_instance, is_number

__all__ = ["STATES", "STUCK_AFTER", "HealthMonitor", "HealthSummary"]

STUCK_AFTER: Final = 30.0
"""Default clock seconds a daemon may stay unsettled before the process is not ready.

Longer than the default restart backoff cap (``RestartPolicy.cap`` = 5 s) several times
over, so a daemon that recovers after a few restarts never flips readiness, while one
that keeps failing does within half a minute.
"""

STATES: Final[tuple[DaemonState, ...]] = get_args(DaemonState)


@final
@dataclass(frozen=True, slots=True)
class HealthSummary:
    """One evaluation of a supervisor's health."""

    started: bool
    """Every daemon known when hosting began has finished ``on_start``."""
    stopping: bool
    """A stop was requested."""
    counts: dict[DaemonState, int]
    """Daemons per state (every state present, zeros included)."""
    failed: tuple[str, ...]
    """Names of failed daemons (finished ones still in the snapshot included)."""
    stuck: tuple[str, ...]
    """Names of daemons unsettled for longer than ``stuck_after``."""

    @property
    def ready(self) -> bool:
        """Started, nothing failed or stuck, not stopping: the readiness and watchdog test."""
        return self.started and not self.stopping and not self.failed and not self.stuck

    def status_line(self) -> str:
        """A one-line summary for systemd's ``STATUS=``."""
        counts = self.counts
        total = sum(counts.values())
        if self.stopping:
            head = "stopping"
        elif not self.started:
            head = "starting"
        else:
            head = "ready" if self.ready else "degraded"
        line = (
            f"{head}: {total} daemons, {counts['running']} running, "
            f"{counts['restarting']} restarting, {counts['failed']} failed"
        )
        if self.stuck:
            line += f", {len(self.stuck)} stuck"
        return line


@final
class HealthMonitor:
    """Evaluates a supervisor's snapshot; remembers since when each daemon is unsettled.

    Its memory is one small entry per live daemon (the restart count last seen), pruned
    to the snapshot on each evaluation, so it stays bounded like the snapshot itself.
    """

    __slots__ = ("_counts", "_since", "_started", "stuck_after", "supervisor")

    def __init__(self, supervisor: Supervisor, *, stuck_after: float = STUCK_AFTER) -> None:
        if not is_instance(supervisor, Supervisor):
            raise TypeError(f"HealthMonitor needs a tickwork.Supervisor, got {supervisor!r}")
        if not (is_number(stuck_after) and math.isfinite(stuck_after) and stuck_after > 0):
            raise ValueError(f"stuck_after must be > 0 clock seconds, got {stuck_after!r}")
        self.supervisor: Supervisor = supervisor
        self.stuck_after: float = float(stuck_after)
        self._started = False
        self._counts: dict[str, int] = {}
        self._since: dict[str, float] = {}

    def mark_started(self) -> None:
        """Record that ``wait_all_started()`` returned (see :func:`serve_hosting`)."""
        self._started = True

    def evaluate(self) -> tuple[HealthSummary, dict[str, DaemonHealth]]:
        """The summary now, and the snapshot it was computed from."""
        supervisor = self.supervisor
        snapshot = supervisor.snapshot()
        now = supervisor.clock.now()
        counts: Counter[DaemonState] = Counter()
        failed: list[str] = []
        stuck: list[str] = []
        last_counts, since = self._counts, self._since
        new_counts: dict[str, int] = {}
        for name, health in snapshot.items():
            state = health.state
            counts[state] += 1
            if state == "failed":
                failed.append(name)
                continue
            if state == "stopped":
                since.pop(name, None)
                continue
            restarts = health.restart_count
            new_counts[name] = restarts
            if state == "running" and last_counts.get(name, restarts) == restarts:
                since.pop(name, None)
                continue
            first = since.setdefault(name, now)
            if self._started and now - first > self.stuck_after:
                stuck.append(name)
        self._counts = new_counts
        for name in [n for n in since if n not in new_counts]:
            del since[name]
        try:
            stopping = supervisor.stop_event.is_set()
        except RuntimeError:  # before entry or after exit
            stopping = False
        summary = HealthSummary(
            started=self._started,
            stopping=stopping,
            counts={state: counts[state] for state in STATES},
            failed=tuple(failed),
            stuck=tuple(stuck),
        )
        return summary, snapshot
