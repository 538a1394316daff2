"""Restart bookkeeping: the policy, a sliding window of event times, one daemon's tracker."""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import final

from ._backoff import backoff_delay, validate_backoff
from ._exceptions import DaemonError
from ._validate import is_int, is_number

__all__ = ["RestartPolicy", "RestartTracker", "SlidingWindow", "validate_intensity"]


def validate_intensity(owner: str, max_restarts: int | None, period: float) -> None:
    """Raise naming ``owner`` when an OTP-style ``max_restarts`` within ``period`` is unusable."""
    if max_restarts is not None:
        if not is_int(max_restarts):
            raise TypeError(f"{owner}.max_restarts must be an int or None, got {max_restarts!r}")
        if max_restarts < 1:
            raise ValueError(f"{owner}.max_restarts must be >= 1 or None, got {max_restarts!r}")
    if not (is_number(period) and math.isfinite(period) and period > 0):
        raise ValueError(f"{owner}.period must be > 0 seconds, got {period!r}")


@final
class SlidingWindow:
    """Event times within the last ``period`` clock seconds, with Erlang/OTP's boundary.

    An event at ``then`` still counts at ``now`` while ``now <= then + period``: a
    daemon failing exactly every ``period`` seconds stays inside its window, as in OTP.
    """

    __slots__ = ("_period", "_times")

    def __init__(self, period: float) -> None:
        self._period = period
        self._times: deque[float] = deque()

    def __len__(self) -> int:
        """Events kept as of the latest :meth:`count` or :meth:`add`."""
        return len(self._times)

    def count(self, now: float) -> int:
        """Events still inside the window at ``now`` (older ones are forgotten)."""
        times = self._times
        while times and times[0] + self._period < now:
            times.popleft()
        return len(times)

    def add(self, now: float) -> int:
        """Record an event at ``now``; return how many are inside the window with it."""
        self._times.append(now)
        return self.count(now)

    def clear(self) -> None:
        """Forget every event."""
        self._times.clear()


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
        if self.max_retries is not None and not is_int(self.max_retries):
            raise TypeError(
                f"RestartPolicy.max_retries must be an int or None, got {self.max_retries!r}"
            )
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError(
                f"RestartPolicy.max_retries must be >= 0 or None, got {self.max_retries}"
            )
        validate_intensity("RestartPolicy", self.max_restarts, self.period)
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
class RestartTracker:
    """One daemon's restart history under its :class:`RestartPolicy`.

    :meth:`next_delay` decides one restart: it raises :class:`DaemonError` past
    ``max_retries`` or the intensity limit, and otherwise counts the restart and returns
    the backoff delay. Created on a daemon's first failure, so daemons that never fail
    pay nothing.
    """

    __slots__ = ("_attempt", "_name", "_policy", "_rng", "_window")

    def __init__(self, name: str, policy: RestartPolicy) -> None:
        self._name = name
        self._policy = policy
        self._attempt = 0
        self._rng = policy.rng_for(name)
        self._window = SlidingWindow(policy.period) if policy.max_restarts is not None else None

    def check(self, now: float, started_at: float | None, error: BaseException | None) -> None:
        """Raise DaemonError if one more restart at ``now`` would pass a limit."""
        policy = self._policy
        if (
            policy.reset_after is not None
            and started_at is not None
            and now - started_at >= policy.reset_after
        ):
            self._attempt = 0
        cause = "" if error is None else f": {type(error).__name__}: {error}"
        if policy.max_retries is not None and self._attempt >= policy.max_retries:
            raise DaemonError(
                f"daemon {self._name!r} exceeded max_retries={policy.max_retries}{cause}",
                daemon=self._name,
            )
        window = self._window
        limit = policy.max_restarts
        if window is not None and limit is not None and window.count(now) >= limit:
            raise DaemonError(
                f"daemon {self._name!r} exceeded max_restarts={limit} "
                f"within period={policy.period}s{cause}",
                daemon=self._name,
            )

    def next_delay(self, now: float) -> float:
        """Count one restart at ``now`` (after :meth:`check`) and return its delay."""
        if self._window is not None:
            self._window.add(now)
        delay = self._policy.delay(self._attempt, self._rng)
        self._attempt += 1
        return delay
