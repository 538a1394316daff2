"""Exponential backoff with bounded, seedable jitter, shared by restarts and reconnects."""

from __future__ import annotations

import math
import random

from ._validate import is_number

__all__ = ["backoff_delay", "validate_backoff"]


def validate_backoff(owner: str, *, base: float, factor: float, cap: float, jitter: float) -> None:
    """Raise ValueError naming ``owner`` and the field when a backoff setting is unusable."""
    for field, value in (("base", base), ("factor", factor), ("cap", cap), ("jitter", jitter)):
        if not is_number(value) or not math.isfinite(value):
            raise ValueError(f"{owner}.{field} must be a finite number, got {value!r}")
    if base < 0:
        raise ValueError(f"{owner}.base must be >= 0 seconds, got {base!r}")
    if factor < 1:
        raise ValueError(f"{owner}.factor must be >= 1 (delays never shrink), got {factor!r}")
    if cap < base:
        raise ValueError(f"{owner}.cap must be >= base ({base!r}), got {cap!r}")
    if not 0 <= jitter < 1:
        raise ValueError(f"{owner}.jitter must be in [0, 1) (0.1 = +/-10%), got {jitter!r}")


def backoff_delay(
    attempt: int, *, base: float, factor: float, cap: float, jitter: float, rng: random.Random
) -> float:
    """Delay before retry number ``attempt`` (0-based): ``base * factor**attempt``, jittered.

    The cap is applied after the jitter, so no delay ever exceeds ``cap``.
    """
    try:
        delay = base * factor**attempt
    except OverflowError:
        delay = cap
    delay = min(delay, cap)
    if jitter:
        delay *= 1.0 + rng.uniform(-jitter, jitter)
    return min(delay, cap)
