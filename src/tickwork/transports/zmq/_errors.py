"""The transport's exceptions, and the one table that translates pyzmq's and msgspec's.

::

    TickworkError
    ├── FrameError       a frame was malformed or its payload failed validation
    └── TransportError   the ZeroMQ socket could not be set up (bad address, in use, ...)

Peer-side ends surface as the core's ``EndOfStream`` / ``ChannelClosed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final, final

import zmq

from tickwork import TickworkError, WouldBlock

__all__ = ["ZMQ_EXCEPTIONS", "FrameError", "TransportError", "map_exceptions"]


@final
class FrameError(TickworkError):
    """A frame from ``peer`` was malformed, or its payload failed the serde's validation.

    Raised by ``receive()`` / ``receive_nowait()`` in the position the bad frame had in
    the stream. It is counted in the statistics (``rejected_frames``) and costs nothing
    else: the next ``receive()`` returns the next good item. Not raised for frames the
    protocol expects to be stale (left over from an earlier connection); those are
    dropped silently and counted as ``stale_frames``.
    """

    def __init__(self, reason: str, *, peer: str) -> None:
        super().__init__(f"bad frame from {peer}: {reason}")
        self.reason: str = reason
        self.peer: str = peer


@final
class TransportError(TickworkError):
    """The ZeroMQ socket could not be created, bound or connected.

    The message names the address and what ZeroMQ said (e.g. "Address already in
    use": pick another port, or bind one side and connect the other).
    """


ExceptionTable = Mapping[type[BaseException], Callable[[str], BaseException]]

ZMQ_EXCEPTIONS: Final[ExceptionTable] = {
    zmq.Again: WouldBlock,
    zmq.ZMQError: TransportError,
}
"""pyzmq exception -> tickwork exception, for socket setup and teardown."""


@final
class map_exceptions:  # noqa: N801 - used like a function: ``with map_exceptions(...)``
    """Re-raise a foreign exception as its tickwork equivalent, ``from`` the original.

    The most specific table entry wins (the first class in the exception's MRO that
    the table names); exceptions the table does not name pass through unchanged.
    A class (not a generator) so the hot decode path pays no generator per call.
    """

    __slots__ = ("_context", "_table")

    def __init__(self, table: ExceptionTable, context: str) -> None:
        self._table = table
        self._context = context

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None or exc is None:
            return
        for cls in exc_type.__mro__:
            mapped = self._table.get(cls)
            if mapped is not None:
                raise mapped(f"{self._context}: {exc}") from exc
