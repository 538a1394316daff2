"""Single-producer / single-consumer channels with a non-blocking fast path.

A channel is a buffer (``collections.deque``) plus at most one parked sender and one
parked receiver: each endpoint has a single owner, so there are never queues of
waiters to manage. When an operation can complete at once it does so without a trip
through the scheduler; every ``FAIRNESS_INTERVAL`` such operations it yields anyway, so
a producer feeding a channel that never fills cannot starve other tasks (ADR 0003).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Generic, Protocol, Self, TypeVar, final

import anyio.lowlevel

from ._exceptions import ChannelClosed, ChannelInUse, EndOfStream, WouldBlock
from ._internals import FairnessBudget, NoPublicConstructor, construct
from ._park import Waiter
from ._validate import is_number

__all__ = [
    "Channel",
    "ChannelStats",
    "MemoryReceiveStream",
    "MemorySendStream",
    "ReceiveStream",
    "SendStream",
    "open_channel",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)


@final
@dataclass(frozen=True, slots=True)
class ChannelStats:
    """A point-in-time view of a channel, for monitoring and tests."""

    current_buffer_used: int
    max_buffer_size: float
    open_send_streams: int
    open_receive_streams: int
    waiters_send: int
    waiters_receive: int


class SendStream(Protocol[T_contra]):
    """The sending endpoint of a channel, in-process or remote."""

    async def send(self, item: T_contra, /) -> None:
        """Send ``item``, waiting for buffer space (or a receiver, for a rendezvous)."""
        ...

    def send_nowait(self, item: T_contra, /) -> None:
        """Send ``item`` now or raise :class:`~tickwork.WouldBlock`."""
        ...

    async def aclose(self) -> None:
        """Close this side: the receiver drains the buffer, then sees EndOfStream."""
        ...

    def statistics(self) -> ChannelStats:
        """Current buffer use, open endpoints and parked tasks."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ReceiveStream(Protocol[T_co]):
    """The receiving endpoint of a channel, in-process or remote."""

    async def receive(self) -> T_co:
        """Return the next item, waiting for one; EndOfStream once drained and closed."""
        ...

    def receive_nowait(self) -> T_co:
        """Return the next item now or raise WouldBlock / EndOfStream."""
        ...

    async def wait_ready(self) -> None:
        """Wait until ``receive_nowait()`` would not raise WouldBlock; take nothing.

        For waiting on several receivers at once (``tickwork.recipes.select``): an item
        is only ever taken by the ``receive`` that returns it. Counts as blocking on
        the endpoint for :class:`~tickwork.ChannelInUse`.
        """
        ...

    async def aclose(self) -> None:
        """Close this side: later sends raise :class:`~tickwork.ChannelClosed`."""
        ...

    def statistics(self) -> ChannelStats:
        """Current buffer use, open endpoints and parked tasks."""
        ...

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> T_co: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class _State(Generic[T]):
    """What both endpoints of one in-process channel share."""

    __slots__ = (
        "buffer",
        "maxsize",
        "receive_closed",
        "receiver",
        "send_closed",
        "sender",
    )

    def __init__(self, maxsize: float) -> None:
        self.buffer: deque[T] = deque()
        self.maxsize: float = maxsize
        self.send_closed: bool = False
        self.receive_closed: bool = False
        # At most one parked task per side: the endpoints are single-owner.
        self.sender: Waiter | None = None
        self.receiver: Waiter | None = None

    def statistics(self) -> ChannelStats:
        return ChannelStats(
            current_buffer_used=len(self.buffer),
            max_buffer_size=self.maxsize,
            open_send_streams=0 if self.send_closed else 1,
            open_receive_streams=0 if self.receive_closed else 1,
            waiters_send=0 if self.sender is None else 1,
            waiters_receive=0 if self.receiver is None else 1,
        )


class _ClosesOnExit:
    """``with`` / ``async with`` support for an endpoint: leaving the block closes it."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@final
class MemorySendStream(
    _ClosesOnExit, Generic[T], metaclass=NoPublicConstructor, factory="tickwork.open_channel()"
):
    """The send endpoint of an in-process channel (see :func:`open_channel`)."""

    __slots__ = ("_budget", "_closed", "_state")

    def __init__(self, state: _State[T]) -> None:
        self._state = state
        self._closed = False
        self._budget = FairnessBudget()

    def __repr__(self) -> str:
        return f"<MemorySendStream {self._state.statistics()}>"

    def send_nowait(self, item: T, /) -> None:
        """Send ``item`` now; WouldBlock if the buffer is full or nobody waits."""
        state = self._state
        if self._closed:
            raise ChannelClosed("send on a channel whose send side was already closed")
        if state.receive_closed:
            raise ChannelClosed("send on a channel whose receive side is closed")
        receiver = state.receiver
        if receiver is not None:
            state.receiver = None
            if receiver.value is _READY:
                # A readiness waiter: wake it, but the item stays in the channel (in
                # the buffer, or with this sender parked) until a receive takes it.
                receiver.wake(None)
            elif receiver.wake(item):
                return
        if len(state.buffer) < state.maxsize:
            state.buffer.append(item)
            return
        raise WouldBlock

    async def send(self, item: T, /) -> None:
        """Send ``item``, waiting while the buffer is full (or for a receiver)."""
        if self._budget.spend():
            await anyio.lowlevel.checkpoint()
        try:
            self.send_nowait(item)
        except WouldBlock:
            pass
        else:
            return
        state = self._state
        if state.sender is not None:
            raise ChannelInUse("sending")
        waiter = Waiter(item)
        state.sender = waiter

        def abort() -> None:
            if state.sender is waiter:
                state.sender = None

        await waiter.park(abort)
        self._budget.refill()
        if waiter.value is _CLOSED:
            if self._closed:
                raise ChannelClosed("the send side was closed while this send was waiting")
            raise ChannelClosed("the receive side was closed before the item was taken")

    def close(self) -> None:
        """Close the send side now; the receiver drains the buffer, then sees EOF."""
        if self._closed:
            return
        self._closed = True
        state = self._state
        state.send_closed = True
        receiver, state.receiver = state.receiver, None
        if receiver is not None:
            receiver.wake(_CLOSED)
        sender, state.sender = state.sender, None
        if sender is not None:
            sender.wake(_CLOSED)

    async def aclose(self) -> None:
        """Close the send side (see :meth:`close`); a checkpoint."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def statistics(self) -> ChannelStats:
        """Buffer use, open endpoints and parked tasks of this channel."""
        return self._state.statistics()


@final
class MemoryReceiveStream(
    _ClosesOnExit, Generic[T], metaclass=NoPublicConstructor, factory="tickwork.open_channel()"
):
    """The receive endpoint of an in-process channel (see :func:`open_channel`)."""

    __slots__ = ("_budget", "_closed", "_state")

    def __init__(self, state: _State[T]) -> None:
        self._state = state
        self._closed = False
        self._budget = FairnessBudget()

    def __repr__(self) -> str:
        return f"<MemoryReceiveStream {self._state.statistics()}>"

    def receive_nowait(self) -> T:
        """Return the next item now; WouldBlock if none is ready, EndOfStream at EOF."""
        if self._closed:
            raise ChannelClosed("receive on a channel whose receive side was closed")
        state = self._state
        buffer = state.buffer
        sender = state.sender
        if buffer:
            item = buffer.popleft()
            if sender is not None:
                # Room appeared: move the parked sender's item in behind the others.
                state.sender = None
                pending = sender.value
                if sender.wake(None):
                    buffer.append(pending)
            return item
        if sender is not None:
            state.sender = None
            item = sender.value
            if sender.wake(None):
                return item
        if state.send_closed:
            raise EndOfStream
        raise WouldBlock

    async def receive(self) -> T:
        """Return the next item, waiting for one; EndOfStream once closed and drained."""
        if self._budget.spend():
            await anyio.lowlevel.checkpoint()
        try:
            return self.receive_nowait()
        except WouldBlock:
            pass
        state = self._state
        if state.receiver is not None:
            raise ChannelInUse("receiving")
        waiter = Waiter(None)
        state.receiver = waiter

        def abort() -> None:
            if state.receiver is waiter:
                state.receiver = None

        await waiter.park(abort)
        self._budget.refill()
        item = waiter.value
        if item is _CLOSED:
            if self._closed:
                raise ChannelClosed("the receive side was closed while this receive waited")
            raise EndOfStream
        return item

    async def wait_ready(self) -> None:
        """Wait until ``receive_nowait()`` would not raise WouldBlock; take nothing.

        Returns once an item is buffered, a sender is parked with one, or the send side
        is closed. A checkpoint. Raises ChannelInUse if another task is blocked on this
        endpoint and ChannelClosed if this receive side is (or gets) closed.
        """
        if self._closed:
            raise ChannelClosed("wait_ready on a channel whose receive side was closed")
        state = self._state
        if state.buffer or state.sender is not None or state.send_closed:
            await anyio.lowlevel.checkpoint()
            return
        if state.receiver is not None:
            raise ChannelInUse("receiving")
        waiter = Waiter(_READY)
        state.receiver = waiter

        def abort() -> None:
            if state.receiver is waiter:
                state.receiver = None

        await waiter.park(abort)
        if waiter.value is _CLOSED and self._closed:
            raise ChannelClosed("the receive side was closed while wait_ready waited")

    def close(self) -> None:
        """Close the receive side: buffered items are dropped, later sends fail."""
        if self._closed:
            return
        self._closed = True
        state = self._state
        state.receive_closed = True
        state.buffer.clear()
        sender, state.sender = state.sender, None
        if sender is not None:
            sender.wake(_CLOSED)
        receiver, state.receiver = state.receiver, None
        if receiver is not None:
            receiver.wake(_CLOSED)

    async def aclose(self) -> None:
        """Close the receive side (see :meth:`close`); a checkpoint."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def statistics(self) -> ChannelStats:
        """Buffer use, open endpoints and parked tasks of this channel."""
        return self._state.statistics()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except EndOfStream:
            raise StopAsyncIteration from None


class _Closed:
    """Marker value a closing endpoint hands to a parked peer."""

    __slots__ = ()


_CLOSED: Final = _Closed()


class _Ready:
    """Marker value of a parked ``wait_ready``: wake it, never hand it an item."""

    __slots__ = ()


_READY: Final = _Ready()


@final
@dataclass(frozen=True, slots=True)
class Channel(Generic[T]):
    """The two endpoints of one channel: ``send`` for the producer, ``recv`` for the consumer."""

    send: SendStream[T]
    recv: ReceiveStream[T]


def open_channel(maxsize: float = 0) -> Channel[T]:  # pyright: ignore[reportInvalidTypeVarUse]
    """Create a single-producer / single-consumer channel.

    ``maxsize=0`` is a rendezvous: ``send`` returns once a receiver has taken the
    item. A positive ``maxsize`` buffers that many items; ``math.inf`` never fills.
    Annotate the target to type the items: ``ch: Channel[int] = open_channel(64)``.
    """
    if not is_number(maxsize):
        raise TypeError(f"maxsize must be an int or math.inf, not {type(maxsize).__name__}")
    if math.isnan(maxsize) or maxsize < 0:
        raise ValueError(
            f"maxsize must be >= 0 (0 = rendezvous, math.inf = unbounded), got {maxsize!r}"
        )
    if maxsize != math.inf and maxsize != int(maxsize):
        raise ValueError(f"maxsize must be a whole number or math.inf, got {maxsize!r}")
    state: _State[T] = _State(maxsize)
    # The trio NoPublicConstructor pattern: only this factory builds endpoints.
    send: MemorySendStream[T] = construct(MemorySendStream[T], state)
    recv: MemoryReceiveStream[T] = construct(MemoryReceiveStream[T], state)
    return Channel(send, recv)
