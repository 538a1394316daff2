"""The receiver's protocol, sans I/O: in-order delivery, duplicates, credit, acknowledgements.

Frames from the sender go to ``on_frame``; the application's calls to ``take()``
(receive), ``park()`` / ``unpark()`` (a receive waits) and ``close()``. Items wait in
``buffer`` as ``(seq, payload)``; acknowledgements and greetings go to ``out``. It
also enforces a single sender (ADR 0030): a second sender is greeted with no credit
and checked against the current one, which keeps the channel if it answers the check;
the newcomer takes over when the current one's connection is gone (the endpoint reports
the check as unroutable) or it stays silent for ``peer_timeout``. See
docs/adr/0012-zmq-transport.md.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Final, final

from ._core import CoreBase, Liveness, Peer
from ._errors import FrameError
from ._frames import (
    CHECK,
    CLOSE,
    CLOSE_ACK,
    DATA,
    FIN,
    FLAG_CLOSED,
    FLAG_FIN,
    FLAG_WAITING,
    HERE,
    PING,
    REFUSED_HAS_SENDER,
    REFUSED_TAKEN_OVER,
    WELCOME,
    Malformed,
    kind_name,
    pack_ack,
    pack_epoch_frame,
    pack_hello,
    pack_nonce_frame,
    pack_refused,
    unpack_data,
    unpack_epoch_frame,
    unpack_nonce_frame,
    unpack_seq_frame,
    unpack_welcome,
)
from ._stats import Cursor

__all__ = ["MAX_ACK_BATCH", "MAX_PENDING_ERRORS", "Entry", "Marker", "ReceiverCore"]

MAX_PENDING_ERRORS: Final = 1024
"""FrameErrors for junk frames kept for ``receive()``; beyond this they are only counted."""

MAX_ACK_BATCH: Final = 256
"""Acknowledge at least every this many delivered items (sooner if the sender waits)."""


class Marker(enum.Enum):
    """The end of stream, in stream position."""

    FIN = "FIN"


Entry = tuple[int, "bytes | FrameError | Marker"]


@final
class ReceiverCore(CoreBase):
    """The receiving end's protocol state; the endpoint feeds it and flushes ``out``."""

    __slots__ = (
        "_check_nonce",
        "_checking",
        "_contender",
        "_contender_deadline",
        "_describe",
        "_old_unroutable",
        "ack_batch",
        "acks_sent",
        "buffer",
        "close_acked",
        "closed",
        "delivered",
        "delivered_count",
        "done",
        "done_adv",
        "duplicates",
        "effective",
        "eof",
        "expected",
        "fin_arrived",
        "gone",
        "handshakes",
        "hello_peer",
        "limit_adv",
        "old_items",
        "peer",
        "pending_errors",
        "received",
        "refused",
        "regreeting",
        "rejected",
        "sender_session",
        "session",
        "stale",
        "waiting",
        "welcomed",
        "window",
    )

    def __init__(
        self,
        *,
        bound: bool,
        live: Liveness,
        window: int,
        session: int,
        resume: Cursor | None,
        describe: Callable[[Peer], str],
    ) -> None:
        super().__init__(bound=bound, live=live)
        self._describe = describe
        self.window: int = window
        self.effective: int = window
        self.ack_batch: int = max(1, min(window // 4, MAX_ACK_BATCH))
        self.session: int = session
        self.sender_session: int = resume.session if resume is not None else 0
        self.delivered: int = resume.seq if resume is not None else 0
        self.expected: int = self.delivered + 1
        self.done: int = self.delivered  # the application finished with every seq <= done
        self.limit_adv: int = 0
        self.done_adv: int = 0
        self.welcomed: bool = False
        self.regreeting: bool = False  # reconnected, not yet welcomed again: no ACKs
        self.peer: Peer = None
        self.hello_peer: Peer = None
        self.buffer: deque[Entry] = deque()
        self.old_items: int = 0  # buffered items from a previous sender session
        self.pending_errors: int = 0
        self.eof: bool = False
        self.fin_arrived: bool = False
        self.closed: bool = False
        self.close_acked: bool = False
        self.gone: bool = False
        self.waiting: bool = False
        # A second sender's WELCOME (peer, session, base, window) while the current one is
        # checked; the check's nonce; whether the check just went out and could not be
        # routed; when (on the clock) the newcomer takes over if the check is not answered.
        self._contender: tuple[Peer, int, int, int] | None = None
        self._check_nonce: int = 0
        self._checking: bool = False
        self._old_unroutable: bool = False
        self._contender_deadline: float | None = None
        self.received: int = 0
        self.delivered_count: int = 0
        self.duplicates: int = 0
        self.rejected: int = 0
        self.stale: int = 0
        self.acks_sent: int = 0
        self.handshakes: int = 0
        self.refused: int = 0

    # -- application calls --------------------------------------------------------------

    @property
    def cursor(self) -> Cursor | None:
        """The resume point after the last delivered item."""
        if not self.sender_session:
            return None
        return Cursor(self.sender_session, self.delivered)

    def take(self) -> Entry | None:
        """The next entry for the application, or None when nothing is buffered.

        Coming back for more means the application is done with the previous item:
        only now is it acknowledged (a receiver killed while holding an item gets it
        again after its restart).
        """
        self.done = self.delivered
        buffer = self.buffer
        if not buffer:
            return None
        entry = buffer.popleft()
        seq, payload = entry
        if seq:
            old = self.old_items > 0  # seq counts in an earlier sender's stream
            if old:
                self.old_items -= 1
            else:
                self.delivered = seq
            self.delivered_count += 1
            if self.done - self.done_adv >= self.ack_batch or self.expected > self.limit_adv:
                self._maybe_ack(waiting=False)
            if payload is Marker.FIN:
                self.eof = True
                if not old:
                    self.done = seq
                self.delivered_count -= 1
                self._send_ack(self.limit_adv)
        elif isinstance(payload, FrameError):
            self.pending_errors -= 1
        return entry

    def park(self) -> None:
        """A receive (or wait_ready) waits: grant credit for it."""
        self.waiting = True
        self._maybe_ack(waiting=True)

    def unpark(self) -> None:
        """The waiting receive returned or was cancelled."""
        self.waiting = False

    def close(self) -> None:
        """The application closed the receive side: buffered items are dropped."""
        if self.closed:
            return
        self.closed = True
        self.buffer.clear()
        self.pending_errors = 0
        if self.welcomed:
            self._send_close(self.peer)
        else:
            self._send_hello(self.hello_peer)
        self.mark_changed()

    # -- inputs from the endpoint --------------------------------------------------------

    def on_send_failed(self, peer: Peer, frame: bytes) -> bool:
        """A frame could not be routed; if it was the check of the current sender, that
        sender's connection is gone and the newcomer takes over. Later frames still go."""
        if self._checking and peer == self.peer and frame[0] == CHECK:
            self._old_unroutable = True
        return False

    def after_flush(self) -> None:
        """The check of the current sender went out: if it could not, take the newcomer."""
        if not self._checking:
            return
        self._checking = False
        if self._old_unroutable and self._contender is not None:
            self._take_over()

    def on_frame(self, peer: Peer, frame: bytes | None) -> bool:
        """Handle one frame from a sender; True if it came from the current one."""
        if frame is None:
            self._reject(peer, "a multipart message (the protocol uses one part per frame)")
            return False
        if not frame:
            # A probe: a sender connected to us (or answered our DEALER's probe).
            self.hello_peer = peer
            self._send_hello(peer)
            return False
        kind = frame[0]
        try:
            if kind == DATA:
                epoch, first, payloads = unpack_data(frame)
                if epoch != self.session or not self.welcomed:
                    self._foreign(peer)
                    return False
                if peer != self.peer:
                    self.stale += 1  # a refused second sender's data
                    return False
                if self.closed:
                    self._send_close(peer)
                    return True
                self._on_data(first, payloads)
                return True
            if kind == FIN:
                epoch, seq = unpack_seq_frame(frame)
                if epoch != self.session or not self.welcomed:
                    self._foreign(peer)
                    return False
                if peer != self.peer:
                    self.stale += 1
                    return False
                if self.closed:
                    self._send_close(peer)
                    return True
                self._on_fin(seq)
                return True
            if kind == PING:
                if unpack_epoch_frame(frame) != self.session or not self.welcomed:
                    self._foreign(peer)
                    return False
                if peer != self.peer:
                    return False
                if self.closed:
                    self._send_close(peer)
                return True
            if kind == WELCOME:
                epoch, session, base, window = unpack_welcome(frame)
                if epoch != self.session:
                    self._foreign(peer)
                    return False
                if (
                    self.welcomed
                    and self.bound
                    and peer != self.peer
                    and session != self.sender_session
                    and not self.gone
                ):
                    self._contend(peer, session, base, window)
                    return False
                if self._contender is not None and peer == self._contender[0]:
                    return False  # the newcomer greets again while the check runs
                self._on_welcome(peer, session, base, window)
                return True
            if kind == HERE:
                epoch, nonce = unpack_nonce_frame(frame)
                if epoch != self.session or not self.welcomed:
                    self._foreign(peer)
                    return False
                if peer != self.peer or self._contender is None or nonce != self._check_nonce:
                    self.stale += 1  # an answer to a check already decided
                    return peer == self.peer
                # The current sender lives: it keeps the channel.
                contender, self._contender = self._contender, None
                self._refuse(contender[0], REFUSED_HAS_SENDER)
                return True
            if kind == CLOSE_ACK:
                if unpack_epoch_frame(frame) != self.session:
                    self._foreign(peer)
                    return False
                self.close_acked = True
                self.mark_changed()
                return True
            raise Malformed(f"{kind_name(kind)} frame sent to a receiver")
        except Malformed as exc:
            self._reject(peer, str(exc))
            return False

    def on_connected(self) -> None:
        """Our DEALER (re)connected to a binding sender: greet it straight away.

        Until its WELCOME arrives this end sends no ACK: the binder may be a new sending
        process, which would read our position in the old one's stream as its own.
        """
        self.regreeting = self.welcomed
        self._send_hello(None)

    def on_tick(self, now: float) -> None:
        """Heartbeat: repeat the ACK (or the greeting, or the CLOSE); check silence."""
        if self._contender is not None:
            if self._contender_deadline is None:
                self._contender_deadline = now + self.live.timeout
            elif now >= self._contender_deadline:
                self._take_over()  # the current sender never answered the check
        if self.closed:
            if self.welcomed and not self.close_acked:
                self._send_close(self.peer)
        elif self.welcomed and not self.regreeting:
            self._send_ack(self.limit_adv)
            if self.waiting:
                self._maybe_ack(waiting=True)
        else:
            self._send_hello(self.hello_peer)
        if self.live.check(now):
            self.gone = True
            self.mark_changed()

    def is_done(self) -> bool:
        """The sender confirmed our close, or ended, or never came, or is gone."""
        return (
            not self.welcomed
            or self.close_acked
            or self.fin_arrived
            or self.gone
            or self.failure is not None
        )

    # -- protocol -------------------------------------------------------------------------

    def _on_data(self, first: int, payloads: list[bytes]) -> None:
        expected = self.expected
        last = first + len(payloads) - 1
        if last < expected:
            self.duplicates += len(payloads)
            return
        if first > expected:
            # A gap cannot happen on one ordered connection: resynchronise.
            self.stale += 1
            self._send_hello(self.peer)
            return
        skip = expected - first
        if skip:
            self.duplicates += skip
            payloads = payloads[skip:]
        self.buffer.extend(zip(range(expected, last + 1), payloads, strict=True))
        self.received += len(payloads)
        self.expected = last + 1
        if last >= self.limit_adv:
            # The sender used all its credit: grant what delivery freed.
            self._maybe_ack(waiting=self.waiting)
        self.mark_changed()

    def _on_fin(self, seq: int) -> None:
        expected = self.expected
        if seq != expected:
            if seq < expected:
                self.duplicates += 1
            else:
                self.stale += 1
                self._send_hello(self.peer)
            return
        self.expected = seq + 1
        self.buffer.append((seq, Marker.FIN))
        self.fin_arrived = True
        self.live.set("closed")
        self._send_ack(self.limit_adv)
        self.mark_changed()

    def _send(self, frame: bytes) -> None:
        if self.peer is not None or not self.bound:
            self.out.append((self.peer, frame))

    def _send_ack(self, limit: int) -> None:
        if not self.welcomed or self.regreeting:
            return
        limit = max(limit, self.limit_adv, self.delivered)
        self.limit_adv = limit
        self.done_adv = self.done
        self.acks_sent += 1
        flags = FLAG_FIN if self.fin_arrived else 0
        self._send(pack_ack(self.session, self.done, self.delivered, limit, flags))

    def _maybe_ack(self, *, waiting: bool) -> None:
        """Tell the sender what was delivered and how far it may send, when it matters."""
        if not self.welcomed or self.closed:
            return
        effective = self.effective
        potential = self.delivered + (effective if effective else (1 if waiting else 0))
        advertised = self.limit_adv
        if potential > advertised and (
            waiting
            or self.expected - 1 >= advertised
            or self.done - self.done_adv >= self.ack_batch
        ):
            self._send_ack(potential)
        elif (effective and self.done - self.done_adv >= self.ack_batch) or (
            waiting and self.done > self.done_adv
        ):
            self._send_ack(advertised)

    def _send_hello(self, peer: Peer) -> None:
        if peer is None and self.bound:
            return
        flags = FLAG_CLOSED if self.closed else 0
        window = self.window
        if self.welcomed and self.bound and peer != self.peer:
            # We have a sender: a newcomer gets no credit until it takes over (ADR 0030).
            window = 0
        elif self.waiting:
            flags |= FLAG_WAITING
        # The cursor is what the application is done with: an item it still holds stays
        # in the sender's buffer until it asks for the next one.
        self.out.append(
            (peer, pack_hello(self.session, self.sender_session, self.done, window, flags))
        )

    def _reject(self, peer: Peer, reason: str) -> None:
        self.rejected += 1
        if self.pending_errors < MAX_PENDING_ERRORS:
            self.pending_errors += 1
            self.buffer.append((0, FrameError(reason, peer=self._describe(peer))))
            self.mark_changed()

    def _foreign(self, peer: Peer) -> None:
        """A well-formed frame for another receiver session: left over, dropped.

        It still tells a fresh receiver that a sender is there: greet it (once per
        peer; the ticker repeats the greeting until it is answered).
        """
        self.stale += 1
        if not self.welcomed and peer != self.hello_peer and not self.closed:
            self.hello_peer = peer
            self._send_hello(peer)

    def _contend(self, peer: Peer, session: int, base: int, window: int) -> None:
        """A second sender greeted: check the current one before deciding (ADR 0030)."""
        if self._contender is not None:
            if peer != self._contender[0]:
                self._refuse(peer, REFUSED_HAS_SENDER)  # one newcomer at a time
            return
        self._contender = (peer, session, base, window)
        if self.live.state == "silent":
            self._take_over()  # the current sender has said nothing for peer_timeout
            return
        self._contender_deadline = None
        self._check_nonce += 1
        self._checking = True
        self._old_unroutable = False
        self.out.append((self.peer, pack_nonce_frame(CHECK, self.session, self._check_nonce)))

    def _refuse(self, peer: Peer, reason: int) -> None:
        self.refused += 1
        self.out.append((peer, pack_refused(self.session, reason)))

    def _take_over(self) -> None:
        """The newcomer becomes the sender; the old one is told, in case it still lives."""
        contender, self._contender = self._contender, None
        assert contender is not None
        peer, session, base, window = contender
        self.out.append((self.peer, pack_refused(self.session, REFUSED_TAKEN_OVER)))
        self._on_welcome(peer, session, base, window, grant=False)
        # Its first greeting offered no credit, and a FIN it sent meanwhile was dropped:
        # greet it again, so it answers WELCOME and sends everything after ``base``.
        self._send_hello(peer)

    def _on_welcome(
        self, peer: Peer, session: int, base: int, window: int, *, grant: bool = True
    ) -> None:
        switched = self.welcomed and peer != self.peer
        if not self.welcomed or switched or session != self.sender_session:
            self.handshakes += 1
        self.peer = peer
        self.regreeting = False
        if session != self.sender_session:
            # A new sending process: a fresh sequence space.
            self.old_items = sum(1 for seq, _ in self.buffer if seq)
            self.sender_session = session
            self.delivered = self.done = base
            self.expected = base + 1
        else:
            self.delivered = max(self.delivered, base)
            self.done = max(self.done, base)
            self.expected = max(self.expected, base + 1)
        self.effective = min(self.window, window)
        self.ack_batch = max(1, min(self.effective // 4, MAX_ACK_BATCH))
        self.welcomed = True
        self.limit_adv = base + (self.effective if self.effective else 0)
        self.done_adv = base
        self.mark_changed()
        if self.closed:
            self._send_close(peer)
            return
        if switched and grant:
            self._send_ack(self.limit_adv)  # its HELLO offered no credit: grant it now
        if self.waiting:
            self._maybe_ack(waiting=True)

    def _send_close(self, peer: Peer) -> None:
        self.out.append((peer, pack_epoch_frame(CLOSE, self.session)))
