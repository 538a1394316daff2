"""The receiving endpoint: moves the receiver core's frames; the protocol is in _receiver_core."""

from __future__ import annotations

from typing import Generic, Self, TypeVar, final

import anyio
import anyio.lowlevel

from tickwork import (
    ChannelClosed,
    ChannelInUse,
    ChannelStats,
    Clock,
    EndOfStream,
    WouldBlock,
)

from ._errors import FrameError, TransportError
from ._link import Link
from ._receiver_core import Marker, ReceiverCore
from ._serde import Serde
from ._socket import Wire
from ._stats import Cursor, ZmqReceiveStats

__all__ = ["ZmqReceiveStream"]

T = TypeVar("T")


@final
class ZmqReceiveStream(Link, Generic[T]):
    """The receive side of a ZeroMQ channel; a :class:`tickwork.ReceiveStream`.

    Built by :func:`open_zmq_receive`. Items arrive in order, each once, however often
    the connection drops. A malformed frame or a payload the serde rejects makes
    ``receive()`` raise :class:`FrameError` in its place; the next call goes on.
    """

    __slots__ = ("_decode", "_hello_waiters", "_maxsize", "_r", "_serde", "_waiter")

    def __init__(
        self,
        *,
        wire: Wire,
        core: ReceiverCore,
        clock: Clock,
        serde: Serde[T],
        heartbeat_interval: float,
        maxsize: float,
    ) -> None:
        super().__init__(wire, core, clock, heartbeat_interval)
        self._r = core
        self._serde = serde
        self._decode = serde.decode
        self._maxsize = maxsize
        self._waiter: anyio.Event | None = None
        self._hello_waiters: list[anyio.Event] = []

    def __repr__(self) -> str:
        state, buffered = self._r.live.state, len(self._r.buffer)
        return f"<ZmqReceiveStream {self.endpoint} peer={state} buffered={buffered}>"

    # -- the ReceiveStream surface --------------------------------------------------

    def receive_nowait(self) -> T:
        """The next item now; WouldBlock if none is here, EndOfStream once ended."""
        core = self._r
        if core.closed:
            raise ChannelClosed("receive on a ZeroMQ channel whose receive side was closed")
        entry = core.take()
        if entry is None:
            if self._wire_open and self._wire.readable():
                self._process_incoming()
                entry = core.take()
            if entry is None:
                if core.out:
                    self._settle()
                if core.eof:
                    raise EndOfStream
                if core.failure is not None:
                    raise TransportError(core.failure)
                if core.gone:
                    raise EndOfStream(
                        f"gave up on the sender at {self.endpoint}: silent for "
                        f"{core.live.give_up_after} s (give_up_after)"
                    )
                raise WouldBlock
        if core.out:
            self._settle()
            self._after_send()
        payload = entry[1]
        if type(payload) is bytes:
            try:
                return self._decode(payload)
            except ValueError as exc:
                core.rejected += 1
                raise FrameError(
                    f"payload rejected by {self._serde!r}: {exc}",
                    peer=self._wire.describe(core.peer),
                ) from exc
        if payload is Marker.FIN:
            raise EndOfStream
        assert isinstance(payload, FrameError)
        raise payload

    async def receive(self) -> T:
        """The next item, waiting for one; EndOfStream once the sender closed and all arrived."""
        if self._budget.spend():
            await anyio.lowlevel.checkpoint()
        try:
            return self.receive_nowait()
        except WouldBlock:
            pass
        if self._waiter is not None:
            raise ChannelInUse("receiving")
        while True:
            await self._park()
            try:
                item = self.receive_nowait()
            except WouldBlock:
                continue
            except ChannelClosed:
                raise ChannelClosed(
                    "the receive side was closed while this receive waited"
                ) from None
            self._budget.refill()
            return item

    async def wait_ready(self) -> None:
        """Wait until ``receive_nowait()`` would not raise WouldBlock; take nothing.

        Waiting grants the sender credit like a parked ``receive()`` does, but nothing
        is taken (or acknowledged) until a receive returns it.
        """
        core = self._r
        if core.closed:
            raise ChannelClosed("wait_ready on a ZeroMQ channel whose receive side was closed")
        if self._waiter is not None:
            raise ChannelInUse("receiving")
        while not (core.buffer or core.eof or core.gone or core.failure is not None):
            if self._wire_open and self._wire.readable():
                self._process_incoming()
                continue
            await self._park()
            if core.closed:
                raise ChannelClosed("the receive side was closed while wait_ready waited")
        await anyio.lowlevel.checkpoint()

    def close(self) -> None:
        """Close the receive side: buffered items are dropped; the sender gets ChannelClosed."""
        self._close_now()

    async def aclose(self) -> None:
        """Close the receive side (see :meth:`close`); a checkpoint."""
        self._close_now()
        await anyio.lowlevel.checkpoint()

    @property
    def cursor(self) -> Cursor | None:
        """The resume point after the last delivered item (see :class:`Cursor`)."""
        return self._r.cursor

    def statistics(self) -> ChannelStats:
        """The channel view: ``current_buffer_used`` is what waits for ``receive()``."""
        core = self._r
        return ChannelStats(
            current_buffer_used=len(core.buffer),
            max_buffer_size=self._maxsize,
            open_send_streams=0 if core.fin_arrived or core.gone else 1,
            open_receive_streams=0 if core.closed else 1,
            waiters_send=0,
            waiters_receive=0 if self._waiter is None else 1,
        )

    def transport_statistics(self) -> ZmqReceiveStats:
        """Transport counters: received, duplicates, rejected frames, peer state."""
        core = self._r
        return ZmqReceiveStats(
            endpoint=self.endpoint,
            peer_state=core.live.state,
            buffered=len(core.buffer),
            received=core.received,
            delivered=core.delivered_count,
            duplicates=core.duplicates,
            rejected_frames=core.rejected,
            stale_frames=core.stale,
            acks_sent=core.acks_sent,
            handshakes=core.handshakes,
            cursor=core.cursor,
            silent_for=core.live.silent_for(self._clock.now()),
        )

    async def wait_peer(self) -> None:
        """Wait until a sender has answered this receiver's greeting (or it closed)."""
        self._after_send()
        core = self._r
        while not (core.welcomed or core.closed or core.gone or core.failure is not None):
            event = anyio.Event()
            self._hello_waiters.append(event)
            await event.wait()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except EndOfStream:
            raise StopAsyncIteration from None

    # -- moving bytes ---------------------------------------------------------------------

    async def _park(self) -> None:
        waiter = self._waiter = anyio.Event()
        self._r.park()
        self._settle()
        self._after_send()
        try:
            await waiter.wait()
        finally:
            self._waiter = None
            self._r.unpark()

    def _on_change(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.set()
        if self._hello_waiters:
            for event in self._hello_waiters:
                event.set()
            self._hello_waiters.clear()

    def _close_now(self) -> None:
        self._r.close()
        self._settle()
