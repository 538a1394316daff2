"""The connection states a :class:`~tickwork.network.NetworkDaemon` moves through."""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple, final

__all__ = ["NetworkStatus", "StatusChange"]


@final
class NetworkStatus(Enum):
    """Where a network-watch daemon stands with its external service.

    ``STOPPED`` before start and after stop; ``NOT_CONNECTED`` when the last check
    failed; ``CONNECTING`` while a check runs from a disconnected state; ``CONNECTED``
    while checks pass; ``DISCONNECTING`` while a stop tears the connection down;
    ``ERROR`` after an unexpected exception in a hook.
    """

    STOPPED = 0
    NOT_CONNECTED = 1
    CONNECTING = 2
    CONNECTED = 3
    DISCONNECTING = 4
    ERROR = 5


@final
class StatusChange(NamedTuple):
    """One entry of a status history: at clock ``time`` the status went ``old`` -> ``new``.

    A plain tuple underneath, so ``(t, old, new)`` unpacking and comparison work.
    """

    time: float
    old: NetworkStatus
    new: NetworkStatus
