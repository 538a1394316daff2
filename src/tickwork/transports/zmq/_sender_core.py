"""The sender's protocol, sans I/O: sequence numbers, the resend buffer, credit, epochs.

``accept(payload)`` puts an encoded item in the resend buffer; ``transmit()`` turns
what is ready within the credit window into DATA frames (batches) in ``out``. Frames
from the receiver go to ``on_frame``; the heartbeat to ``on_tick(now)``. See
docs/adr/0012-zmq-transport.md.
"""

from __future__ import annotations

from collections import deque
from typing import Final, final

from ._core import CoreBase, Liveness, Peer, logger
from ._frames import (
    ACK,
    CHECK,
    CLOSE,
    CLOSE_ACK,
    DATA,
    FIN,
    FLAG_CLOSED,
    FLAG_FIN,
    FLAG_WAITING,
    HELLO,
    HERE,
    PING,
    REFUSED,
    REFUSED_HAS_SENDER,
    SEQ_HEAD,
    Malformed,
    VersionMismatch,
    kind_name,
    pack_data,
    pack_epoch_frame,
    pack_nonce_frame,
    pack_welcome,
    unpack_ack,
    unpack_epoch_frame,
    unpack_hello,
    unpack_nonce_frame,
    unpack_refused,
)

__all__ = ["MAX_BATCH", "SenderCore"]

MAX_BATCH: Final = 256
"""Items per DATA frame at most: big enough to amortise the per-message cost of ZeroMQ,
small enough that one frame never holds up the receiver's first item for long."""

_pack_fin: Final = SEQ_HEAD.pack


@final
class SenderCore(CoreBase):
    """The sending end's protocol state; the endpoint feeds it and flushes ``out``."""

    __slots__ = (
        "acked",
        "closed",
        "delivered",
        "endpoint",
        "epoch",
        "fin_arrived",
        "fin_seq",
        "gone",
        "greeted",
        "handshakes",
        "limit",
        "max_sent",
        "next_seq",
        "peer",
        "peer_closed",
        "rejected",
        "resent",
        "sent",
        "sent_upto",
        "session",
        "stale",
        "unacked",
        "unbounded",
        "window",
    )

    def __init__(
        self,
        *,
        bound: bool,
        live: Liveness,
        endpoint: str,
        window: int,
        unbounded: bool,
        session: int,
    ) -> None:
        super().__init__(bound=bound, live=live)
        self.endpoint: str = endpoint
        self.window: int = window
        self.unbounded: bool = unbounded
        self.session: int = session
        self.epoch: int = 0  # the receiver session greeted last; 0 = none yet
        self.peer: Peer = None
        self.next_seq: int = 1
        self.acked: int = 0  # the receiving application is done with every seq <= acked
        self.delivered: int = 0  # ... and was handed every seq <= delivered
        self.limit: int = 0  # may send seq <= limit
        self.unacked: deque[bytes | None] = deque()  # seq acked+1 .. next_seq-1; None = FIN
        self.sent_upto: int = 0  # highest seq handed to the socket in this epoch
        self.max_sent: int = 0
        self.closed: bool = False
        self.peer_closed: bool = False
        self.gone: bool = False
        self.greeted: bool = False
        self.fin_seq: int = 0
        self.fin_arrived: bool = False
        self.sent: int = 0
        self.resent: int = 0
        self.handshakes: int = 0
        self.rejected: int = 0
        self.stale: int = 0

    # -- application calls --------------------------------------------------------------

    def closed_reason(self) -> str | None:
        """Why a send now raises ChannelClosed, or None while sends are possible."""
        if self.closed:
            return "send on a ZeroMQ channel whose send side was already closed"
        if self.peer_closed:
            return f"the receiver at {self.endpoint} closed the channel"
        if self.gone:
            return (
                f"gave up on the receiver at {self.endpoint}: silent for "
                f"{self.live.give_up_after} s (give_up_after)"
            )
        return None

    def has_credit(self) -> bool:
        """An item accepted now stays within the window (``math.inf``: always)."""
        return self.unbounded or self.next_seq <= self.limit

    def accept(self, payload: bytes) -> None:
        """Take an encoded item into the resend buffer (the caller checked credit)."""
        self.next_seq += 1
        self.unacked.append(payload)
        self.sent += 1

    def in_flight(self) -> int:
        """Items in the resend buffer (the FIN does not count)."""
        data = len(self.unacked)
        if self.fin_seq and self.acked < self.fin_seq:
            data -= 1
        return data

    def credit(self) -> int:
        """Items the receiver would take now."""
        if self.closed_reason() is not None or self.failure is not None:
            return 0
        return max(0, self.limit - self.next_seq + 1)

    def close(self) -> None:
        """The application closed the send side: FIN follows the last item."""
        if self.closed:
            return
        self.closed = True
        if not (self.peer_closed or self.gone or self.failure is not None):
            self.fin_seq = self.next_seq
            self.next_seq += 1
            self.unacked.append(None)
            self.transmit()
        self.mark_changed()

    def transmit(self) -> None:
        """Queue DATA frames for what is ready within credit (and the FIN), in order."""
        epoch = self.epoch
        if not epoch or self.failure is not None:
            return
        self.mark_blocked(False)
        unacked = self.unacked
        upto = self.sent_upto
        last = min(self.next_seq - 1, self.limit)
        offset = self.acked + 1
        out = self.out
        peer = self.peer
        while upto < last:
            first = upto + 1
            end = min(last, upto + MAX_BATCH)
            batch: list[bytes] = []
            for seq in range(first, end + 1):
                payload = unacked[seq - offset]
                if payload is None:  # the FIN: the batch ends before it
                    end = seq - 1
                    break
                batch.append(payload)
            if not batch:
                break
            out.append((peer, pack_data(epoch, first, batch)))
            upto = end
        fin = self.fin_seq
        if fin and upto == fin - 1 and self.next_seq - 1 == fin:
            out.append((peer, _pack_fin(FIN, epoch, fin)))  # the FIN needs no credit
            upto = fin
        self.resent += max(0, min(upto, self.max_sent) - self.sent_upto)
        self.max_sent = max(self.max_sent, upto)
        self.sent_upto = upto

    # -- inputs from the endpoint --------------------------------------------------------

    def retry(self) -> None:
        """The socket takes frames again: send what it refused."""
        self.transmit()

    def on_send_failed(self, peer: Peer, frame: bytes) -> bool:
        """A frame did not go: data from its seq on goes again; stop this flush."""
        if frame and frame[0] in (DATA, FIN):
            first = SEQ_HEAD.unpack_from(frame)[2]
            self.sent_upto = min(self.sent_upto, first - 1)
            self.mark_blocked(True)
        return True

    def on_frame(self, peer: Peer, frame: bytes | None) -> bool:
        """Handle one frame from the receiver; True if it came from the current peer."""
        if frame is None:
            self._reject(peer, "a multipart message (the protocol uses one part per frame)")
            return False
        if not frame:
            # A receiver's DEALER connected (ZMQ_PROBE_ROUTER): ask it to say HELLO.
            if self.bound:
                self.out.append((peer, b""))
            return False
        kind = frame[0]
        try:
            if kind == ACK:
                epoch, done, delivered, limit, flags = unpack_ack(frame)
                if epoch != self.epoch:
                    self.stale += 1
                    return False
                self._on_ack(done, delivered, limit, flags)
                return True
            if kind == HELLO:
                session, cursor_session, cursor_seq, window, flags = unpack_hello(frame)
                self._on_hello(peer, session, cursor_session, cursor_seq, window, flags)
                return True
            if kind == CLOSE:
                epoch = unpack_epoch_frame(frame)
                if epoch != self.epoch:
                    self.stale += 1
                    return False
                self._on_peer_closed(peer, epoch)
                return True
            if kind == CHECK:
                # Another sender greeted our receiver: say we are still here (ADR 0030).
                epoch, nonce = unpack_nonce_frame(frame)
                if epoch != self.epoch:
                    self.stale += 1
                    return False
                self.out.append((peer, pack_nonce_frame(HERE, epoch, nonce)))
                return True
            if kind == REFUSED:
                epoch, reason = unpack_refused(frame)
                if epoch != self.epoch:
                    self.stale += 1
                    return False
                self.on_refused(self._refusal(reason))
                return True
            raise Malformed(f"{kind_name(kind)} frame sent to a sender")
        except VersionMismatch as exc:
            self.on_refused(f"the receiver at {self.endpoint} cannot be used: {exc}")
            return False
        except Malformed as exc:
            self._reject(peer, str(exc))
            return False

    def on_tick(self, now: float) -> None:
        """Heartbeat: PING the receiver, retry a blocked transmit, check its silence."""
        if self.epoch and not (self.peer_closed or self.gone or self.failure is not None):
            self.out.append((self.peer, pack_epoch_frame(PING, self.epoch)))
            if self.blocked:
                self.transmit()
        if self.live.check(now):
            self.gone = True
            self.mark_changed()

    def is_done(self) -> bool:
        """The receiver has everything (FIN included), or can never get it."""
        if self.peer_closed or self.gone or self.failure is not None:
            return True
        return (
            bool(self.fin_seq)
            and self.fin_arrived
            and max(self.acked, self.delivered) >= self.fin_seq - 1
        )

    # -- protocol -------------------------------------------------------------------------

    def _refusal(self, reason: int) -> str:
        if reason == REFUSED_HAS_SENDER:
            return (
                f"the receiver at {self.endpoint} already has a sender: a ZeroMQ channel "
                "takes one sender (SPSC); close the other sender or open another receiver "
                "for this one"
            )
        return (
            f"the receiver at {self.endpoint} took another sender: this one did not answer "
            "its check within the receiver's peer_timeout (was this process stalled?)"
        )

    def _reject(self, peer: Peer, reason: str) -> None:
        self.rejected += 1
        logger.debug("dropped a bad frame from %r on %s: %s", peer, self.endpoint, reason)

    def _forget_acked(self, upto: int) -> None:
        count = upto - self.acked
        if count <= 0:
            return
        popleft = self.unacked.popleft
        for _ in range(count):
            popleft()
        self.acked = upto
        self.sent_upto = max(self.sent_upto, upto)

    def _on_ack(self, done: int, delivered: int, limit: int, flags: int) -> None:
        self._forget_acked(min(done, self.next_seq - 1))
        self.delivered = max(self.delivered, delivered)
        if limit > self.limit:
            self.limit = limit
            self.transmit()
        if flags & FLAG_FIN and self.fin_seq:
            self.fin_arrived = True
        self.mark_changed()

    def _on_hello(  # noqa: PLR0917 - the HELLO's fields, in wire order
        self,
        peer: Peer,
        session: int,
        cursor_session: int,
        cursor_seq: int,
        window: int,
        flags: int,
    ) -> None:
        if flags & FLAG_CLOSED:
            if self.epoch in (0, session):
                self._on_peer_closed(peer, session)
            return
        if self.failure is not None:
            return
        if session != self.epoch:
            self.handshakes += 1
        self.epoch = session
        self.peer = peer
        self.greeted = True
        base = self.acked
        if cursor_session == self.session and cursor_seq > base:
            base = min(cursor_seq, self.next_seq - 1)
        self._forget_acked(base)
        self.sent_upto = base
        effective = min(self.window, window)
        grant = effective if effective else (1 if flags & FLAG_WAITING else 0)
        self.limit = base + grant
        self.out.append((peer, pack_welcome(session, self.session, base, self.window)))
        self.transmit()
        self.mark_changed()

    def _on_peer_closed(self, peer: Peer, epoch: int) -> None:
        if epoch:
            self.out.append((peer, pack_epoch_frame(CLOSE_ACK, epoch)))
        if self.peer_closed:
            return
        self.peer_closed = True
        self.live.set("closed")
        self.mark_changed()
