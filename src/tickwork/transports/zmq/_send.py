"""The sending endpoint: sequence numbers, the resend buffer and credit from the receiver."""

from __future__ import annotations

import random
from collections import deque
from typing import Final, Generic, TypeVar, final

import anyio
import anyio.lowlevel

from tickwork import ChannelClosed, ChannelInUse, ChannelStats, WouldBlock

from ._frames import (
    ACK,
    CLOSE,
    CLOSE_ACK,
    DATA,
    FIN,
    FLAG_CLOSED,
    FLAG_FIN,
    FLAG_WAITING,
    HELLO,
    PING,
    SEQ_HEAD,
    Malformed,
    kind_name,
    pack_epoch_frame,
    pack_welcome,
    unpack_ack,
    unpack_epoch_frame,
    unpack_hello,
)
from ._link import Link, Liveness, logger
from ._serde import Serde
from ._socket import Wire
from ._stats import ZmqSendStats

__all__ = ["ZmqSendStream"]

T = TypeVar("T")

_pack_head: Final = SEQ_HEAD.pack


@final
class ZmqSendStream(Link, Generic[T]):
    """The send side of a ZeroMQ channel; a :class:`tickwork.SendStream`.

    Built by :func:`open_zmq_send`. ``send()`` returns once the item is in the resend
    buffer and on its way; it waits while the receiver has granted no credit
    (``maxsize`` items unacknowledged, or no receive() waiting for a rendezvous).
    Everything sent is kept until the receiving application has received it, and sent
    again when the receiver reconnects or restarts, for as long as this process lives.
    """

    __slots__ = (
        "_acked",
        "_closed",
        "_delivered",
        "_drained",
        "_encode",
        "_epoch",
        "_fin_arrived",
        "_fin_seq",
        "_gone",
        "_greeted",
        "_handshakes",
        "_limit",
        "_max_sent",
        "_maxsize",
        "_next_seq",
        "_peer",
        "_peer_closed",
        "_rejected",
        "_resent",
        "_sent",
        "_sent_upto",
        "_serde",
        "_session",
        "_stale",
        "_unacked",
        "_waiter",
        "_window",
    )

    def __init__(
        self,
        *,
        wire: Wire,
        serde: Serde[T],
        live: Liveness,
        heartbeat_interval: float,
        maxsize: float,
        window: int,
    ) -> None:
        super().__init__(wire, live, heartbeat_interval)
        self._serde = serde
        self._encode = serde.encode
        self._maxsize = maxsize
        self._window = window
        self._session = random.getrandbits(63) | 1
        self._epoch = 0  # the receiver session greeted last; 0 = none yet
        self._peer: bytes | None = None
        self._next_seq = 1
        self._acked = 0  # the receiving application is done with every seq <= acked
        self._delivered = 0  # ... and was handed every seq <= delivered
        self._limit = 0  # may send seq <= limit
        self._unacked: deque[bytes | None] = deque()  # seq acked+1 .. next_seq-1; None = FIN
        self._sent_upto = 0  # highest seq handed to the socket in this epoch
        self._max_sent = 0
        self._closed = False
        self._peer_closed = False
        self._gone = False
        self._fin_seq = 0
        self._fin_arrived = False
        self._waiter: anyio.Event | None = None
        self._drained = anyio.Event()
        self._greeted = anyio.Event()
        self._sent = 0
        self._resent = 0
        self._handshakes = 0
        self._rejected = 0
        self._stale = 0

    def __repr__(self) -> str:
        return (
            f"<ZmqSendStream {self.endpoint} peer={self._live.state} in_flight={self._in_flight()}>"
        )

    # -- the SendStream surface -----------------------------------------------------

    def send_nowait(self, item: T, /) -> None:
        """Send ``item`` now; WouldBlock without credit, ChannelClosed once closed."""
        if self._closed or self._peer_closed or self._gone:
            raise self._closed_error()
        seq = self._next_seq
        if seq > self._limit:
            # Out of credit: an ACK may be waiting unseen (our own sends can eat the
            # ZMQ_FD edge that would have woken the pump), so look before giving up.
            self._after_send()
            if seq > self._limit or self._closed or self._peer_closed or self._gone:
                if self._closed or self._peer_closed or self._gone:
                    raise self._closed_error()
                raise WouldBlock
        payload = self._encode(item)
        self._next_seq = seq + 1
        self._unacked.append(payload)
        self._sent += 1
        if self._epoch:
            self._transmit()

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
        return ChannelStats(
            current_buffer_used=self._in_flight(),
            max_buffer_size=self._maxsize,
            open_send_streams=0 if self._closed else 1,
            open_receive_streams=0 if self._peer_closed or self._gone else 1,
            waiters_send=0 if self._waiter is None else 1,
            waiters_receive=0,
        )

    def transport_statistics(self) -> ZmqSendStats:
        """Transport counters: in flight, acknowledged, resent, rejected, peer state."""
        last_data = (self._fin_seq or self._next_seq) - 1
        return ZmqSendStats(
            endpoint=self.endpoint,
            peer_state=self._live.state,
            in_flight=self._in_flight(),
            credit=max(0, self._limit - self._next_seq + 1)
            if not (self._closed or self._peer_closed or self._gone)
            else 0,
            sent=self._sent,
            acked=min(self._acked, last_data),
            resent=self._resent,
            handshakes=self._handshakes,
            rejected_frames=self._rejected,
            stale_frames=self._stale,
            silent_for=self._live.silent_for(),
        )

    async def wait_peer(self) -> None:
        """Wait until a receiver has greeted this sender (or the channel ended)."""
        self._after_send()
        self._wake()
        await self._greeted.wait()

    async def wait_acked(self) -> None:
        """Wait until the receiving application has taken every item sent so far.

        For a sender that must know an item reached the other side before it goes on
        (``tickwork.cluster`` uses it so a child's results survive its SIGKILL). An
        item counts as taken once the receiver's application came back for the next
        one. Returns at once with nothing in flight, and when the channel ended (the
        receiver closed or was given up on). Counts as blocking on the endpoint for
        :class:`~tickwork.ChannelInUse`.
        """
        self._after_send()  # an ACK may already be here, its ZMQ_FD edge eaten by a send
        if self._waiter is not None:
            raise ChannelInUse("sending")
        while self._in_flight() and not (self._peer_closed or self._gone):
            waiter = self._waiter = anyio.Event()
            try:
                await waiter.wait()
            finally:
                self._waiter = None
        await anyio.lowlevel.checkpoint()

    # -- protocol ---------------------------------------------------------------------

    def _in_flight(self) -> int:
        data = len(self._unacked)
        if self._fin_seq and self._acked < self._fin_seq:
            data -= 1
        return data

    def _closed_error(self) -> ChannelClosed:
        if self._closed:
            return ChannelClosed("send on a ZeroMQ channel whose send side was already closed")
        if self._peer_closed:
            return ChannelClosed(f"the receiver at {self.endpoint} closed the channel")
        return ChannelClosed(
            f"gave up on the receiver at {self.endpoint}: silent for "
            f"{self._live.give_up_after} s (give_up_after)"
        )

    def _wake(self) -> None:
        if self._epoch or self._closed or self._peer_closed or self._gone:
            self._greeted.set()
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def _check_drained(self) -> None:
        if self._is_done():
            self._drained.set()

    def _is_done(self) -> bool:
        if self._peer_closed or self._gone:
            return True
        return (
            bool(self._fin_seq)
            and self._fin_arrived
            and max(self._acked, self._delivered) >= self._fin_seq - 1
        )

    async def _wait_done(self) -> None:
        self._after_send()  # the FIN's send may have eaten the ACK's ZMQ_FD edge
        self._check_drained()
        await self._drained.wait()

    def _transmit(self) -> None:
        """Hand every not-yet-sent frame of this epoch to the socket, in order."""
        if not self._wire_open:
            return
        send = self._wire.send
        peer = self._peer
        epoch = self._epoch
        unacked = self._unacked
        upto = self._sent_upto
        last = self._next_seq - 1
        offset = self._acked + 1
        while upto < last:
            seq = upto + 1
            payload = unacked[seq - offset]
            if payload is None:
                frame = _pack_head(FIN, epoch, seq)
            else:
                frame = _pack_head(DATA, epoch, seq) + payload
            if not send(peer, frame):
                self._out_blocked = True
                break
            upto = seq
            if seq <= self._max_sent:
                self._resent += 1
            else:
                self._max_sent = seq
        self._sent_upto = upto
        # No ZMQ_EVENTS check per frame (it costs as much as the send): incoming ACKs are
        # picked up when credit runs out, at the fairness checkpoint, by the ticker and
        # by the pump whenever ZMQ_FD does fire.

    def _on_writable(self) -> None:
        if self._epoch:
            self._transmit()

    def _on_frame(self, peer: bytes | None, frame: bytes | None) -> bool:
        if frame is None:
            self._reject(peer, "a multipart message (the protocol uses one part per frame)")
            return False
        if not frame:
            # A receiver's DEALER connected (ZMQ_PROBE_ROUTER): ask it to say HELLO.
            if self._wire.bound and self._wire_open:
                self._wire.send(peer, b"")
            return False
        kind = frame[0]
        try:
            if kind == ACK:
                epoch, done, delivered, limit, flags = unpack_ack(frame)
                if epoch != self._epoch:
                    self._stale += 1
                    return False
                self._on_ack(done, delivered, limit, flags)
                return True
            if kind == HELLO:
                session, cursor_session, cursor_seq, window, flags = unpack_hello(frame)
                self._on_hello(
                    peer,
                    session=session,
                    cursor_session=cursor_session,
                    cursor_seq=cursor_seq,
                    window=window,
                    flags=flags,
                )
                return True
            if kind == CLOSE:
                epoch = unpack_epoch_frame(frame)
                if epoch != self._epoch:
                    self._stale += 1
                    return False
                self._on_peer_closed(peer, epoch)
                return True
            raise Malformed(f"{kind_name(kind)} frame sent to a sender")
        except Malformed as exc:
            self._reject(peer, str(exc))
            return False

    def _reject(self, peer: bytes | None, reason: str) -> None:
        self._rejected += 1
        logger.debug("dropped a bad frame from %s: %s", self._wire.describe(peer), reason)

    def _forget_acked(self, upto: int) -> None:
        count = upto - self._acked
        if count <= 0:
            return
        popleft = self._unacked.popleft
        for _ in range(count):
            popleft()
        self._acked = upto
        self._sent_upto = max(self._sent_upto, upto)

    def _on_ack(self, done: int, delivered: int, limit: int, flags: int) -> None:
        self._forget_acked(min(done, self._next_seq - 1))
        self._delivered = max(self._delivered, delivered)
        self._limit = max(self._limit, limit)
        if flags & FLAG_FIN and self._fin_seq:
            self._fin_arrived = True
        self._wake()
        self._check_drained()

    def _on_hello(
        self,
        peer: bytes | None,
        *,
        session: int,
        cursor_session: int,
        cursor_seq: int,
        window: int,
        flags: int,
    ) -> None:
        if flags & FLAG_CLOSED:
            if self._epoch in (0, session):
                self._on_peer_closed(peer, session)
            return
        if session != self._epoch:
            self._handshakes += 1
        self._epoch = session
        self._peer = peer
        base = self._acked
        if cursor_session == self._session and cursor_seq > base:
            base = min(cursor_seq, self._next_seq - 1)
        self._forget_acked(base)
        self._sent_upto = base
        effective = min(self._window, window)
        grant = effective if effective else (1 if flags & FLAG_WAITING else 0)
        self._limit = base + grant
        if self._wire_open:
            self._wire.send(peer, pack_welcome(session, self._session, base, self._window))
            self._transmit()
        self._wake()
        self._check_drained()

    def _on_peer_closed(self, peer: bytes | None, epoch: int) -> None:
        if self._wire_open and epoch:
            self._wire.send(peer, pack_epoch_frame(CLOSE_ACK, epoch))
        if self._peer_closed:
            return
        self._peer_closed = True
        self._live.set("closed")
        self._wake()
        self._check_drained()

    def _on_tick(self) -> None:
        if self._epoch and not (self._peer_closed or self._gone):
            self._wire.send(self._peer, pack_epoch_frame(PING, self._epoch))
            if self._out_blocked:
                self._transmit()

    def _on_give_up(self) -> None:
        self._gone = True
        self._wake()
        self._check_drained()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not (self._peer_closed or self._gone):
            self._fin_seq = self._next_seq
            self._next_seq += 1
            self._unacked.append(None)
            if self._epoch:
                self._transmit()
        self._wake()
        self._check_drained()
