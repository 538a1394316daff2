"""The sending endpoint: moves the sender core's frames; the protocol is in _sender_core."""

from __future__ import annotations

from typing import Generic, TypeVar, final

import anyio
import anyio.abc
import anyio.lowlevel

from tickwork import ChannelClosed, ChannelInUse, ChannelStats, Clock, WouldBlock

from ._errors import TransportError
from ._link import Link
from ._sender_core import MAX_BATCH, SenderCore
from ._serde import Serde
from ._socket import Wire
from ._stats import ZmqSendStats

__all__ = ["ZmqSendStream"]

T = TypeVar("T")


@final
class ZmqSendStream(Link, Generic[T]):
    """The send side of a ZeroMQ channel; a :class:`tickwork.SendStream`.

    Built by :func:`open_zmq_send`. ``send()`` returns once the item is in the resend
    buffer; it leaves (batched with whatever else is ready) at this task's next
    checkpoint. It waits while the receiver has granted no credit (``maxsize`` items
    unacknowledged, or no receive() waiting for a rendezvous; ``math.inf`` never
    waits). Everything sent is kept until the receiving application has received it,
    and sent again when the receiver reconnects or restarts, for as long as this
    process lives.
    """

    __slots__ = ("_encode", "_flush", "_flush_pending", "_greeted", "_maxsize", "_s", "_waiter")

    def __init__(
        self,
        *,
        wire: Wire,
        core: SenderCore,
        clock: Clock,
        serde: Serde[T],
        heartbeat_interval: float,
        maxsize: float,
    ) -> None:
        super().__init__(wire, core, clock, heartbeat_interval)
        self._s = core
        self._encode = serde.encode
        self._maxsize = maxsize
        self._waiter: anyio.Event | None = None
        self._greeted = anyio.Event()
        self._flush = anyio.Event()
        self._flush_pending = False

    def __repr__(self) -> str:
        state = self._s.live.state
        return f"<ZmqSendStream {self.endpoint} peer={state} in_flight={self._s.in_flight()}>"

    # -- the SendStream surface -----------------------------------------------------

    def send_nowait(self, item: T, /) -> None:
        """Send ``item`` now; WouldBlock without credit, ChannelClosed once closed."""
        core = self._s
        if not core.has_credit():
            # Out of credit: an ACK may be waiting unseen (our own sends can eat the
            # ZMQ_FD edge that would have woken the pump), so look before giving up.
            self._after_send()
            self._raise_if_stopped()
            if not core.has_credit():
                raise WouldBlock
        elif core.failure is not None or core.closed_reason() is not None:
            self._raise_if_stopped()
        core.accept(self._encode(item))
        if not core.epoch:
            return
        if core.next_seq - core.sent_upto > MAX_BATCH:
            self._transmit()
        elif not self._flush_pending:
            self._flush_pending = True
            self._flush.set()

    async def send(self, item: T, /) -> None:
        """Send ``item``, waiting for credit from the receiver."""
        if self._budget.spend():
            self._after_send()
            await anyio.lowlevel.checkpoint()
        try:
            self.send_nowait(item)
        except WouldBlock:
            pass
        else:
            return
        if self._waiter is not None:
            raise ChannelInUse("sending")
        self._transmit()  # what is ready goes before this task parks
        while True:
            waiter = self._waiter = anyio.Event()
            try:
                await waiter.wait()
            finally:
                self._waiter = None
            try:
                self.send_nowait(item)
            except WouldBlock:
                continue
            self._budget.refill()
            return

    def close(self) -> None:
        """Close the send side: the receiver gets everything sent, then EndOfStream."""
        self._close_now()

    async def aclose(self) -> None:
        """Close the send side (see :meth:`close`); a checkpoint."""
        self._close_now()
        await anyio.lowlevel.checkpoint()

    def statistics(self) -> ChannelStats:
        """The channel view: ``current_buffer_used`` is the items in flight.

        ``waiters_receive`` is always 0 here: the receiver reports its own.
        """
        core = self._s
        return ChannelStats(
            current_buffer_used=core.in_flight(),
            max_buffer_size=self._maxsize,
            open_send_streams=0 if core.closed else 1,
            open_receive_streams=0 if core.peer_closed or core.gone else 1,
            waiters_send=0 if self._waiter is None else 1,
            waiters_receive=0,
        )

    def transport_statistics(self) -> ZmqSendStats:
        """Transport counters: in flight, acknowledged, resent, rejected, peer state."""
        core = self._s
        last_data = (core.fin_seq or core.next_seq) - 1
        return ZmqSendStats(
            endpoint=self.endpoint,
            peer_state=core.live.state,
            in_flight=core.in_flight(),
            credit=core.credit(),
            sent=core.sent,
            acked=min(core.acked, last_data),
            resent=core.resent,
            handshakes=core.handshakes,
            rejected_frames=core.rejected,
            stale_frames=core.stale,
            silent_for=core.live.silent_for(self._clock.now()),
        )

    async def wait_peer(self) -> None:
        """Wait until a receiver has greeted this sender (or the channel ended)."""
        self._after_send()
        self._on_change()
        await self._greeted.wait()

    async def wait_acked(self) -> None:
        """Wait until the receiving application has taken every item sent so far.

        For a sender that must know an item reached the other side before it goes on
        (``tickwork.cluster`` uses it so a child's results survive its SIGKILL). An
        item counts as taken once the receiver's application came back for the next
        one. Returns at once with nothing in flight, and when the channel ended (the
        receiver closed, was given up on, or the transport failed). Counts as blocking
        on the endpoint for :class:`~tickwork.ChannelInUse`.
        """
        self._after_send()  # an ACK may already be here, its ZMQ_FD edge eaten by a send
        if self._waiter is not None:
            raise ChannelInUse("sending")
        core = self._s
        if core.epoch:
            self._transmit()  # what send_nowait accepted goes now, not at the next flush
        while core.in_flight() and not (core.peer_closed or core.gone or core.failure):
            waiter = self._waiter = anyio.Event()
            try:
                await waiter.wait()
            finally:
                self._waiter = None
        await anyio.lowlevel.checkpoint()

    # -- moving bytes ---------------------------------------------------------------------

    def _raise_if_stopped(self) -> None:
        core = self._s
        if core.failure is not None:
            raise TransportError(core.failure)
        reason = core.closed_reason()
        if reason is not None:
            raise ChannelClosed(reason)

    def _transmit(self) -> None:
        self._s.transmit()
        self._settle()

    def _start_extra(self, tg: anyio.abc.TaskGroup) -> None:
        tg.start_soon(self._flusher)

    async def _flusher(self) -> None:
        """Send what ``send_nowait`` accepted, as batches, when the producer yields."""
        while True:
            await self._flush.wait()
            self._flush = anyio.Event()
            self._flush_pending = False
            if self._wire_open:
                self._transmit()

    def _on_change(self) -> None:
        core = self._s
        if core.greeted or core.closed or core.peer_closed or core.gone or core.failure:
            self._greeted.set()
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def _close_now(self) -> None:
        self._s.close()
        self._settle()
