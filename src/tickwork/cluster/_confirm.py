"""The child's send streams: ``send()`` returns once the parent holds the item (ADR 0040).

A plain ZeroMQ ``send()`` returns while the item may still sit in the child's socket
buffer, which dies with a SIGKILLed child. The parent only knows which jobs the child
acknowledged (it came back for the next one), so a result still in that buffer while
its job was already acknowledged would be lost. Waiting for the parent's
acknowledgement before ``send()`` returns closes the window: once a child's daemon
comes back for its next job, every result it sent for the last one is in the parent.
"""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Self, TypeVar, final

from tickwork import ChannelStats, WouldBlock
from tickwork.transports.zmq import ZmqSendStats, ZmqSendStream

__all__ = ["ConfirmedSend"]

T = TypeVar("T")


@final
class ConfirmedSend(Generic[T]):
    """A :class:`tickwork.SendStream` over a ZeroMQ sender whose sends are confirmed.

    ``send()`` returns once the parent's side has taken the item. ``send_nowait()``
    hands over an item only when nothing earlier is unconfirmed (else WouldBlock); that
    item is confirmed by the next ``send()``.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: ZmqSendStream[T]) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return f"<ConfirmedSend {self._inner!r}>"

    async def send(self, item: T, /) -> None:
        """Send ``item`` and wait until the parent's side has taken it."""
        await self._inner.send(item)
        await self._inner.wait_acked()

    def send_nowait(self, item: T, /) -> None:
        """Hand ``item`` over now; WouldBlock while an earlier item is unconfirmed."""
        if self._inner.transport_statistics().in_flight:
            raise WouldBlock
        self._inner.send_nowait(item)

    async def aclose(self) -> None:
        """Close the send side (the parent gets what was sent, then EndOfStream)."""
        await self._inner.aclose()

    def statistics(self) -> ChannelStats:
        """The underlying ZeroMQ sender's channel view."""
        return self._inner.statistics()

    def transport_statistics(self) -> ZmqSendStats:
        """The underlying ZeroMQ sender's transport counters."""
        return self._inner.transport_statistics()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
