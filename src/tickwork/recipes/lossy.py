"""Send wrappers for producers that must never block: they drop items instead.

Each wrapper satisfies the :class:`tickwork.SendStream` protocol, so a producer
written against ``SendStream`` takes one unchanged. ``send()`` and ``send_nowait()``
never wait for room and never raise ``WouldBlock``; every item is either in the
channel or counted in ``dropped``, exactly. ``ChannelClosed`` still propagates.
"""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Never, Self, TypeVar, final

import anyio.lowlevel

from tickwork import (
    ChannelStats,
    EndOfStream,
    ReceiveStream,
    SendStream,
    WouldBlock,
)
from tickwork._internals import FairnessBudget

__all__ = ["CoalesceSend", "DropNewestSend", "DropOldestSend"]

T = TypeVar("T")


class _LossySend(Generic[T]):
    """What the three wrappers share: the counter, fairness, close and context manager."""

    __slots__ = ("_budget", "_dropped", "_send")

    def __init__(self, send: SendStream[T]) -> None:
        self._send = send
        self._budget = FairnessBudget()
        self._dropped = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} dropped={self._dropped} {self._send!r}>"

    @property
    def dropped(self) -> int:
        """Items this wrapper discarded since it was created (exact)."""
        return self._dropped

    def send_nowait(self, item: T, /) -> None:
        """Put ``item`` in the channel or drop an item; never raises ``WouldBlock``."""
        raise NotImplementedError

    async def send(self, item: T, /) -> None:
        """Like :meth:`send_nowait`; a checkpoint every 64 calls, never waits for room."""
        if self._budget.spend():
            await anyio.lowlevel.checkpoint()
        self.send_nowait(item)

    async def aclose(self) -> None:
        """Close the wrapped send endpoint."""
        await self._send.aclose()

    def statistics(self) -> ChannelStats:
        """The wrapped channel's statistics."""
        return self._send.statistics()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _require_buffer(send: SendStream[Never], what: str) -> None:
    if send.statistics().max_buffer_size < 1:
        raise ValueError(
            f"{what} needs a buffered channel (open_channel(maxsize >= 1)): a rendezvous "
            "channel has no buffered item to drop, so every item would be lost"
        )


@final
class DropNewestSend(_LossySend[T]):
    """When the channel is full, drop the item being sent (the buffer is kept).

    Use when data already queued matters more than the newest sample.
    """

    __slots__ = ()

    def __init__(self, inner: SendStream[T]) -> None:
        super().__init__(inner)

    def send_nowait(self, item: T, /) -> None:
        """Send ``item`` if there is room, else count it as dropped."""
        try:
            self._send.send_nowait(item)
        except WouldBlock:
            self._dropped += 1


@final
class DropOldestSend(_LossySend[T]):
    """When the channel is full, drop the oldest buffered item to make room.

    Use when freshness matters more than completeness (telemetry, progress). It needs
    the channel's receive endpoint too, to take the oldest item out, so it works on
    in-process channels with ``maxsize >= 1``; the consumer keeps using ``recv``.
    """

    __slots__ = ("_recv",)

    def __init__(self, send: SendStream[T], recv: ReceiveStream[T]) -> None:
        _require_buffer(send, "DropOldestSend")
        super().__init__(send)
        self._recv = recv

    def send_nowait(self, item: T, /) -> None:
        """Send ``item``; if the channel is full, discard the oldest buffered item first."""
        try:
            self._send.send_nowait(item)
            return
        except WouldBlock:
            pass
        try:
            self._recv.receive_nowait()
            self._dropped += 1
        except (WouldBlock, EndOfStream):
            pass
        try:
            self._send.send_nowait(item)
        except WouldBlock:
            self._dropped += 1


@final
class CoalesceSend(_LossySend[T]):
    """Keep at most one unread item: a new item replaces the one still waiting.

    The consumer always reads the newest value and never a backlog (a "latest value"
    channel with backpressure-free producers). Needs the receive endpoint, like
    :class:`DropOldestSend`, and a channel with ``maxsize >= 1``.
    """

    __slots__ = ("_recv",)

    def __init__(self, send: SendStream[T], recv: ReceiveStream[T]) -> None:
        _require_buffer(send, "CoalesceSend")
        super().__init__(send)
        self._recv = recv

    def send_nowait(self, item: T, /) -> None:
        """Replace every unread item with ``item`` (each one replaced counts as dropped)."""
        recv = self._recv
        while recv.statistics().current_buffer_used:
            try:
                recv.receive_nowait()
            except (WouldBlock, EndOfStream):
                break
            self._dropped += 1
        try:
            self._send.send_nowait(item)
        except WouldBlock:
            self._dropped += 1
