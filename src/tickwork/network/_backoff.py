"""``Backoff``: the public, stateful exponential backoff used by reconnect loops."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import final

from tickwork._backoff import backoff_delay, validate_backoff
from tickwork._validate import is_int

__all__ = ["Backoff"]


@final
@dataclass(eq=False)
class Backoff:
    """Exponential backoff: ``min``, then times ``factor`` per call, never above ``max``.

    Each :meth:`next` returns the delay before the next retry and grows the following
    one; :meth:`reset` (call it on success) starts again from ``min``. Every delay is
    varied by +/- ``jitter`` (a fraction: 0.1 = +/-10%) drawn from this object's own
    ``random.Random(seed)``, never from wall time, so a seeded Backoff replays the same
    delays every run; the ``max`` cap is applied after the jitter. ``seed=None`` seeds
    from the OS (delays then differ between runs unless ``jitter=0``).

    A Backoff has state: give each reconnect loop its own instance.
    """

    min: float = 1.0
    max: float = 300.0
    factor: float = 2.0
    jitter: float = 0.1
    seed: int | None = None
    _attempt: int = field(default=0, init=False, repr=False)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        validate_backoff(
            "Backoff", base=self.min, factor=self.factor, cap=self.max, jitter=self.jitter
        )
        if self.seed is not None and not is_int(self.seed):
            raise TypeError(f"Backoff.seed must be an int or None, got {self.seed!r}")
        self._rng = random.Random(self.seed)

    @property
    def attempt(self) -> int:
        """How many delays :meth:`next` has handed out since the last reset."""
        return self._attempt

    def next(self) -> float:
        """Return the delay before the next retry, in seconds, and grow the one after."""
        delay = backoff_delay(
            self._attempt,
            base=self.min,
            factor=self.factor,
            cap=self.max,
            jitter=self.jitter,
            rng=self._rng,
        )
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``min`` (after a success). The jitter stream continues."""
        self._attempt = 0
