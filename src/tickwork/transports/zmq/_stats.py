"""What the endpoints report: peer state, statistics and the receiver's resume cursor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, final

__all__ = ["Cursor", "PeerState", "ZmqReceiveStats", "ZmqSendStats"]

PeerState = Literal["connecting", "up", "silent", "gone", "closed"]
"""How an endpoint sees its peer.

``connecting``: not heard from yet. ``up``: heard within ``peer_timeout``. ``silent``:
nothing heard for longer than ``peer_timeout`` (it may come back). ``gone``: silent past
``give_up_after``; the endpoint has given up (terminal). ``closed``: the peer ended the
channel cleanly (the sender sent end-of-stream, or the receiver closed) (terminal).
"""


@final
@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a receiver is in one sender's stream: the last sequence number it delivered.

    Persist it with whatever the application did with the item, and pass it to
    ``open_zmq_receive(..., resume=cursor)`` after a restart: the sender (if it is
    still the same process) then skips everything up to ``seq``, so nothing is
    delivered twice across the restart.
    """

    session: int
    """The sending process's random session id."""
    seq: int
    """The sequence number of the last item delivered to the application."""


@final
@dataclass(frozen=True, slots=True)
class ZmqSendStats:
    """A point-in-time view of a ZeroMQ send endpoint (``transport_statistics()``)."""

    endpoint: str
    peer_state: PeerState
    in_flight: int
    """Items sent but not yet acknowledged as received by the receiving application."""
    credit: int
    """Items ``send()`` may send now without waiting for the receiver."""
    sent: int
    """Items accepted by ``send()`` / ``send_nowait()``."""
    acked: int
    """Items the receiving application has received (acknowledged)."""
    resent: int
    """Frames sent again after a reconnect or a receiver restart."""
    handshakes: int
    """Receiver sessions greeted (the first connection plus each restart)."""
    rejected_frames: int
    """Malformed or unexpected frames from the peer (dropped, logged)."""
    stale_frames: int
    """Frames left over from an earlier receiver session (dropped)."""
    silent_for: float | None
    """Clock seconds since the receiver was last heard; None if never heard."""


@final
@dataclass(frozen=True, slots=True)
class ZmqReceiveStats:
    """A point-in-time view of a ZeroMQ receive endpoint (``transport_statistics()``)."""

    endpoint: str
    peer_state: PeerState
    buffered: int
    """Items (and pending FrameErrors) waiting for ``receive()``."""
    received: int
    """Data frames accepted from the sender (duplicates not counted)."""
    delivered: int
    """Items handed to the application (FrameErrors for bad payloads included)."""
    duplicates: int
    """Frames received again after a reconnect and dropped."""
    rejected_frames: int
    """Malformed frames and payloads that failed validation (each one FrameError)."""
    stale_frames: int
    """Frames left over from an earlier connection (dropped)."""
    acks_sent: int
    handshakes: int
    """WELCOMEs accepted (the first connection plus each reconnect)."""
    cursor: Cursor | None
    """The resume point after the last delivered item; None before the first one."""
    silent_for: float | None
    """Clock seconds since the sender was last heard; None if never heard."""
