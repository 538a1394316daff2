"""Argument checks with messages that name the argument and the fix.

The one place for runtime checks of user input: the core, the recipes, the network
daemons and the transports all use these. They take ``object`` on purpose: callers are
often untyped, and the type checker would otherwise call each runtime check unnecessary.
"""

from __future__ import annotations

import math

__all__ = ["check_int", "check_seconds", "is_instance", "is_int", "is_number"]


def is_number(value: object) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_instance(value: object, cls: type | tuple[type, ...]) -> bool:
    """``isinstance`` for arguments the type checker believes are already typed."""
    return isinstance(value, cls)


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``; TypeError/ValueError naming ``name``."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    assert isinstance(value, int)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_seconds(value: object, name: str, *, minimum: float = 0, strict: bool = False) -> float:
    """Return ``value`` as float seconds: finite and >= ``minimum`` (> when ``strict``).

    Errors name ``name`` and the bound, e.g. ``timeout must be a finite number of
    seconds > 0, got -1``.
    """
    if not is_number(value):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    assert isinstance(value, int | float)
    seconds = float(value)
    too_small = seconds <= minimum if strict else seconds < minimum
    if not math.isfinite(seconds) or too_small:
        bound = f"{'>' if strict else '>='} {minimum:g}"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return seconds
