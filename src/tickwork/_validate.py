"""Argument checks with messages that name the argument and the fix.

They take ``object`` on purpose: callers are often untyped, and the type checker
would otherwise call each runtime check unnecessary.
"""

from __future__ import annotations

__all__ = ["is_instance", "is_int", "is_number"]


def is_number(value: object) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_instance(value: object, cls: type | tuple[type, ...]) -> bool:
    """``isinstance`` for arguments the type checker believes are already typed."""
    return isinstance(value, cls)
