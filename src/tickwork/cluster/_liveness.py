"""Whether a heartbeat tick comes after this side itself stopped running.

A process that was stopped (SIGSTOP, a long pause) wakes to a heartbeat loop that
skipped ticks while the peer's messages still wait unread in the socket. Judging the
peer's silence at that tick would blame the peer for our own pause, so both the
parent and the child skip the judgement once and let their reader catch up first.
"""

from __future__ import annotations

from typing import Final

__all__ = ["stalled"]

SKIPPED_TICKS: Final = 1.5
"""A gap between consecutive ticks above this many periods means ticks were skipped
(``every`` only ever delivers whole periods apart, so 1.5 splits 1 from 2)."""


def stalled(previous: float | None, tick: float, period: float) -> bool:
    """True when ticks were skipped between ``previous`` and ``tick``."""
    return previous is not None and tick - previous > SKIPPED_TICKS * period
