"""The receiving endpoint: in-order delivery, duplicate removal, credit and acknowledgements."""

from __future__ import annotations

import enum
import random
from collections import deque
from typing import Final, Generic, Self, TypeVar, final

import anyio
import anyio.lowlevel

from tickwork import (
    ChannelClosed,
    ChannelInUse,
    ChannelStats,
    EndOfStream,
    WouldBlock,
)

from ._errors import FrameError, map_exceptions
from ._frames import (
    CLOSE,
    CLOSE_ACK,
    DATA,
    FIN,
    FLAG_CLOSED,
    FLAG_FIN,
    FLAG_WAITING,
    PING,
    SEQ_HEAD,
    WELCOME,
    Malformed,
    kind_name,
    pack_ack,
    pack_epoch_frame,
    pack_hello,
    unpack_epoch_frame,
    unpack_seq_frame,
    unpack_welcome,
)
from ._link import Link, Liveness
from ._serde import Serde
from ._socket import Wire
from ._stats import Cursor, ZmqReceiveStats

__all__ = ["MAX_PENDING_ERRORS", "ZmqReceiveStream"]

T = TypeVar("T")

MAX_PENDING_ERRORS: Final = 1024
"""FrameErrors for junk frames kept for ``receive()``; beyond this they are only counted."""

MAX_ACK_BATCH: Final = 256
"""Acknowledge at least every this many delivered items (sooner if the sender waits)."""

_HEAD: Final = SEQ_HEAD.size


class _Marker(enum.Enum):
    FIN = "FIN"


_Entry = tuple[int, "bytes | FrameError | _Marker"]


@final
class ZmqReceiveStream(Link, Generic[T]):
    """The receive side of a ZeroMQ channel; a :class:`tickwork.ReceiveStream`.

    Built by :func:`open_zmq_receive`. Items arrive in order, each once, however often
    the connection drops. A malformed frame or a payload the serde rejects makes
    ``receive()`` raise :class:`FrameError` in its place; the next call goes on.
    """

    __slots__ = (
        "_ack_batch",
        "_acks_sent",
        "_buffer",
        "_close_acked",
        "_closed",
        "_closed_event",
        "_decode",
        "_decode_guard",
        "_delivered",
        "_delivered_count",
        "_done",
        "_done_adv",
        "_duplicates",
        "_effective",
        "_eof",
        "_expected",
        "_fin_arrived",
        "_gone",
        "_handshakes",
        "_hello_peer",
        "_hello_waiters",
        "_limit_adv",
        "_maxsize",
        "_old_items",
        "_peer",
        "_pending_errors",
        "_received",
        "_rejected",
        "_sender_session",
        "_serde",
        "_session",
        "_stale",
        "_waiter",
        "_welcomed",
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
        resume: Cursor | None,
    ) -> None:
        super().__init__(wire, live, heartbeat_interval)
        self._serde = serde
        self._decode = serde.decode
        self._maxsize = maxsize
        self._window = window
        self._effective = window
        self._ack_batch = max(1, min(window // 4, MAX_ACK_BATCH))
        self._session = random.getrandbits(63) | 1
        self._sender_session = resume.session if resume is not None else 0
        self._delivered = resume.seq if resume is not None else 0
        self._expected = self._delivered + 1
        self._done = self._delivered  # the application finished with every seq <= done
        self._limit_adv = 0
        self._done_adv = 0
        self._welcomed = False
        self._peer: bytes | None = None
        self._hello_peer: bytes | None = None
        self._hello_waiters: list[anyio.Event] = []
        self._buffer: deque[_Entry] = deque()
        self._old_items = 0  # buffered items from a previous sender session
        self._pending_errors = 0
        self._eof = False
        self._fin_arrived = False
        self._closed = False
        self._close_acked = False
        self._closed_event = anyio.Event()
        self._gone = False
        self._waiter: anyio.Event | None = None
        self._decode_guard = self._make_guard(None)
        self._received = 0
        self._delivered_count = 0
        self._duplicates = 0
        self._rejected = 0
        self._stale = 0
        self._acks_sent = 0
        self._handshakes = 0

    def __repr__(self) -> str:
        state, buffered = self._live.state, len(self._buffer)
        return f"<ZmqReceiveStream {self.endpoint} peer={state} buffered={buffered}>"

    # -- the ReceiveStream surface --------------------------------------------------

    def receive_nowait(self) -> T:
        """The next item now; WouldBlock if none is here, EndOfStream once ended."""
        if self._closed:
            raise ChannelClosed("receive on a ZeroMQ channel whose receive side was closed")
        # Coming back for more means the application is done with the previous item:
        # only now is it acknowledged (a receiver killed while holding an item gets it
        # again after its restart).
        self._done = self._delivered
        buffer = self._buffer
        if not buffer:
            if self._wire_open and self._wire.readable():
                self._process_incoming()
            if not buffer:
                if self._eof:
                    raise EndOfStream
                if self._gone:
                    raise EndOfStream(
                        f"gave up on the sender at {self.endpoint}: silent for "
                        f"{self._live.give_up_after} s (give_up_after)"
                    )
                raise WouldBlock
        seq, payload = buffer.popleft()
        if seq:
            if self._old_items:
                self._old_items -= 1
            else:
                self._delivered = seq
            self._delivered_count += 1
            if self._done - self._done_adv >= self._ack_batch or self._expected > self._limit_adv:
                self._maybe_ack(waiting=False)
        if type(payload) is bytes:
            try:
                with self._decode_guard:
                    return self._decode(payload)
            except FrameError:
                self._rejected += 1
                raise
        if payload is _Marker.FIN:
            self._eof = True
            self._done = seq
            self._delivered_count -= 1
            self._send_ack(self._limit_adv)
            raise EndOfStream
        assert isinstance(payload, FrameError)
        if not seq:
            self._pending_errors -= 1
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
            waiter = self._waiter = anyio.Event()
            self._maybe_ack(waiting=True)
            try:
                await waiter.wait()
            finally:
                self._waiter = None
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
        if self._closed:
            raise ChannelClosed("wait_ready on a ZeroMQ channel whose receive side was closed")
        if self._waiter is not None:
            raise ChannelInUse("receiving")
        while not (self._buffer or self._eof or self._gone):
            if self._wire_open and self._wire.readable():
                self._process_incoming()
                continue
            waiter = self._waiter = anyio.Event()
            self._maybe_ack(waiting=True)
            try:
                await waiter.wait()
            finally:
                self._waiter = None
            if self._closed:
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
        if not self._sender_session:
            return None
        return Cursor(self._sender_session, self._delivered)

    def statistics(self) -> ChannelStats:
        """The channel view: ``current_buffer_used`` is what waits for ``receive()``."""
        return ChannelStats(
            current_buffer_used=len(self._buffer),
            max_buffer_size=self._maxsize,
            open_send_streams=0 if self._fin_arrived or self._gone else 1,
            open_receive_streams=0 if self._closed else 1,
            waiters_send=0,
            waiters_receive=0 if self._waiter is None else 1,
        )

    def transport_statistics(self) -> ZmqReceiveStats:
        """Transport counters: received, duplicates, rejected frames, peer state."""
        return ZmqReceiveStats(
            endpoint=self.endpoint,
            peer_state=self._live.state,
            buffered=len(self._buffer),
            received=self._received,
            delivered=self._delivered_count,
            duplicates=self._duplicates,
            rejected_frames=self._rejected,
            stale_frames=self._stale,
            acks_sent=self._acks_sent,
            handshakes=self._handshakes,
            cursor=self.cursor,
            silent_for=self._live.silent_for(),
        )

    async def wait_peer(self) -> None:
        """Wait until a sender has answered this receiver's greeting (or it closed)."""
        self._after_send()
        while not (self._welcomed or self._closed or self._gone):
            await self._wait_event()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except EndOfStream:
            raise StopAsyncIteration from None

    # -- protocol ---------------------------------------------------------------------

    async def _wait_event(self) -> None:
        # wait_peer shares the greeting event with nobody: a dedicated one-shot.
        event = anyio.Event()
        self._hello_waiters.append(event)
        await event.wait()

    def _make_guard(self, peer: bytes | None) -> map_exceptions:
        name = self._wire.describe(peer)
        return map_exceptions(
            {ValueError: lambda message: FrameError(message, peer=name)},
            f"payload rejected by {self._serde!r}",
        )

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            waiter.set()

    def _send(self, frame: bytes) -> None:
        if self._wire_open and (self._peer is not None or not self._wire.bound):
            self._wire.send(self._peer, frame)
            self._after_send()

    def _send_ack(self, limit: int) -> None:
        if not self._welcomed:
            return
        limit = max(limit, self._limit_adv, self._delivered)
        self._limit_adv = limit
        self._done_adv = self._done
        self._acks_sent += 1
        flags = FLAG_FIN if self._fin_arrived else 0
        self._send(pack_ack(self._session, self._done, self._delivered, limit, flags))

    def _maybe_ack(self, *, waiting: bool) -> None:
        """Tell the sender what was delivered and how far it may send, when it matters."""
        if not self._welcomed or self._closed:
            return
        effective = self._effective
        potential = self._delivered + (effective if effective else (1 if waiting else 0))
        advertised = self._limit_adv
        if potential > advertised and (
            waiting
            or self._expected - 1 >= advertised
            or self._done - self._done_adv >= self._ack_batch
        ):
            self._send_ack(potential)
        elif (effective and self._done - self._done_adv >= self._ack_batch) or (
            waiting and self._done > self._done_adv
        ):
            self._send_ack(advertised)

    def _send_hello(self, peer: bytes | None) -> None:
        if not self._wire_open or (peer is None and self._wire.bound):
            return
        flags = (FLAG_WAITING if self._waiter is not None else 0) | (
            FLAG_CLOSED if self._closed else 0
        )
        self._wire.send(
            peer,
            # The cursor is what the application is done with: an item it still holds
            # stays in the sender's buffer until it asks for the next one.
            pack_hello(self._session, self._sender_session, self._done, self._window, flags),
        )
        self._after_send()

    def _reject(self, peer: bytes | None, reason: str) -> None:
        self._rejected += 1
        if self._pending_errors < MAX_PENDING_ERRORS:
            self._pending_errors += 1
            self._buffer.append((0, FrameError(reason, peer=self._wire.describe(peer))))
            self._wake()

    def _foreign(self, peer: bytes | None) -> None:
        """A well-formed frame for another receiver session: left over, dropped.

        It still tells a fresh receiver that a sender is there: greet it (once per
        peer; the ticker repeats the greeting until it is answered).
        """
        self._stale += 1
        if not self._welcomed and peer != self._hello_peer and not self._closed:
            self._hello_peer = peer
            self._send_hello(peer)

    def _on_frame(self, peer: bytes | None, frame: bytes | None) -> bool:
        if frame is None:
            self._reject(peer, "a multipart message (the protocol uses one part per frame)")
            return False
        if not frame:
            # A probe: a sender connected to us (or answered our DEALER's probe).
            self._hello_peer = peer
            self._send_hello(peer)
            return False
        kind = frame[0]
        try:
            if kind in (DATA, FIN):
                epoch, seq = unpack_seq_frame(frame)
                if epoch != self._session or not self._welcomed:
                    self._foreign(peer)
                    return False
                if self._closed:
                    self._send_close(peer)
                    return True
                expected = self._expected
                if seq != expected:
                    if seq < expected:
                        self._duplicates += 1
                    else:
                        # A gap cannot happen on one ordered connection: resynchronise.
                        self._stale += 1
                        self._send_hello(self._peer)
                    return True
                self._expected = seq + 1
                if kind == DATA:
                    self._received += 1
                    self._buffer.append((seq, frame[_HEAD:]))
                    if seq >= self._limit_adv:
                        # The sender used all its credit: grant what delivery freed.
                        self._maybe_ack(waiting=self._waiter is not None)
                else:
                    self._buffer.append((seq, _Marker.FIN))
                    self._fin_arrived = True
                    self._closed_event.set()
                    self._live.set("closed")
                    self._send_ack(self._limit_adv)
                self._wake()
                return True
            if kind == PING:
                if unpack_epoch_frame(frame) != self._session or not self._welcomed:
                    self._foreign(peer)
                    return False
                if self._closed:
                    self._send_close(peer)
                return True
            if kind == WELCOME:
                epoch, session, base, window = unpack_welcome(frame)
                if epoch != self._session:
                    self._foreign(peer)
                    return False
                self._on_welcome(peer, session, base, window)
                return True
            if kind == CLOSE_ACK:
                if unpack_epoch_frame(frame) != self._session:
                    self._foreign(peer)
                    return False
                self._close_acked = True
                self._closed_event.set()
                return True
            raise Malformed(f"{kind_name(kind)} frame sent to a receiver")
        except Malformed as exc:
            self._reject(peer, str(exc))
            return False

    def _on_welcome(self, peer: bytes | None, session: int, base: int, window: int) -> None:
        if peer != self._peer:
            self._decode_guard = self._make_guard(peer)
        self._peer = peer
        if session != self._sender_session:
            # A new sending process: a fresh sequence space.
            self._old_items = sum(1 for seq, _ in self._buffer if seq)
            self._sender_session = session
            self._delivered = self._done = base
            self._expected = base + 1
        else:
            self._delivered = max(self._delivered, base)
            self._done = max(self._done, base)
            self._expected = max(self._expected, base + 1)
        self._effective = min(self._window, window)
        self._ack_batch = max(1, min(self._effective // 4, MAX_ACK_BATCH))
        waiting = self._waiter is not None
        self._welcomed = True
        self._handshakes += 1
        self._limit_adv = base + (self._effective if self._effective else 0)
        self._done_adv = base
        for event in self._hello_waiters:
            event.set()
        self._hello_waiters.clear()
        if self._closed:
            self._send_close(peer)
        elif waiting:
            self._maybe_ack(waiting=True)

    def _send_close(self, peer: bytes | None) -> None:
        if self._wire_open:
            self._wire.send(peer, pack_epoch_frame(CLOSE, self._session))
            self._after_send()

    def _on_connected(self) -> None:
        # Our DEALER (re)connected to a binding sender: greet it straight away.
        self._send_hello(None)

    def _on_tick(self) -> None:
        if self._closed:
            if self._welcomed and not self._close_acked:
                self._send_close(self._peer)
        elif self._welcomed:
            self._send_ack(self._limit_adv)
            if self._waiter is not None:
                self._maybe_ack(waiting=True)
        else:
            self._send_hello(self._hello_peer)

    def _on_give_up(self) -> None:
        self._gone = True
        self._wake()
        for event in self._hello_waiters:
            event.set()
        self._hello_waiters.clear()
        self._closed_event.set()

    def _is_done(self) -> bool:
        return not self._welcomed or self._close_acked or self._fin_arrived or self._gone

    async def _wait_done(self) -> None:
        self._after_send()
        if not self._is_done():
            await self._closed_event.wait()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._pending_errors = 0
        if self._welcomed:
            self._send_close(self._peer)
        else:
            self._send_hello(self._hello_peer)
        self._wake()
        for event in self._hello_waiters:
            event.set()
        self._hello_waiters.clear()
