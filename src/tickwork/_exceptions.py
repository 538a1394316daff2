"""The exceptions tickwork raises, under one root.

::

    TickworkError
    ├── EndOfStream      (also anyio.EndOfStream)       the sender closed; buffer drained
    ├── ChannelClosed    (also anyio.ClosedResourceError, anyio.BrokenResourceError)
    ├── ChannelInUse     (also anyio.BusyResourceError)  two tasks block on one endpoint
    ├── WouldBlock       (also anyio.WouldBlock)         a *_nowait call cannot finish now
    └── DaemonError                                      an exception escaped a daemon

Channel errors also derive from their anyio equivalents, so code written against
anyio's memory object streams (``except anyio.EndOfStream``) keeps working.
"""

from __future__ import annotations

from typing import Literal

import anyio

__all__ = [
    "ChannelClosed",
    "ChannelInUse",
    "DaemonError",
    "Deadlock",
    "EndOfStream",
    "OnError",
    "TickworkError",
    "WouldBlock",
]

OnError = Literal["shutdown", "restart", "ignore"]
"""What a :class:`~tickwork.Supervisor` does when an exception escapes a daemon hook."""


class TickworkError(Exception):
    """Root of every exception tickwork raises."""


class EndOfStream(TickworkError, anyio.EndOfStream):
    """The send side was closed and every buffered item has been received.

    Raised by ``receive()`` and ``receive_nowait()``; ``async for`` ends quietly on it.
    Not raised while items remain in the buffer.
    """


class ChannelClosed(TickworkError, anyio.ClosedResourceError, anyio.BrokenResourceError):
    """The channel cannot carry this item any more.

    Raised by ``send()`` when the receive side is closed or this send side was already
    closed, and by ``receive()`` on a receive side that this task's code closed.
    Items already received are unaffected.
    """


class ChannelInUse(TickworkError, anyio.BusyResourceError):
    """A second task tried to block on an endpoint while another task is blocked on it.

    Channels are single-producer / single-consumer: each endpoint has one owner at a
    time. Fan data in or out with :mod:`tickwork.recipes` (``merge``, ``tee``) instead.
    """

    def __init__(self, action: str) -> None:
        Exception.__init__(
            self,
            f"another task is already {action} on this channel endpoint; channels are "
            "single-producer/single-consumer, so give each task its own channel "
            "(see tickwork.recipes.merge and tickwork.recipes.fanout)",
        )


class WouldBlock(TickworkError, anyio.WouldBlock):
    """A ``*_nowait`` call could not complete without waiting.

    ``send_nowait`` raises it on a full buffer (or a rendezvous with no receiver
    waiting); ``receive_nowait`` on an empty buffer whose sender is still open.
    """


class DaemonError(TickworkError):
    """An exception escaped a daemon hook; the original is ``__cause__``.

    The message names the daemon: ``daemon 'NAME' failed: ...``,
    ``daemon 'NAME' cleanup failed: ...`` or ``daemon 'NAME' exceeded max_retries=N``.
    """

    def __init__(self, message: str, *, daemon: str) -> None:
        super().__init__(message)
        self.daemon = daemon


class Deadlock(TickworkError):
    """An autojumping SimClock found nothing left that could ever wake a task.

    No deadline, no thread work in flight and no I/O arriving: the program would hang.
    The message names what each blocked task waits on.
    """
