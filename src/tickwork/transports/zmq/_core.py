"""What both sans-I/O protocol cores share: the outbox, peer liveness, terminal errors.

A core is a pure state machine. Its inputs are decoded frames, application calls and
the current time as a number; its outputs are frames in ``out`` (for the endpoint to
hand to its ``Wire``) and state the endpoint reads after each input (``changed``: wake
parked callers; ``failure``: a terminal error for the application). No sockets, no
anyio, no clock object: tests can drive the cores directly, and the endpoints only
move bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

from tickwork._logging import library_logger

from ._stats import PeerState

__all__ = ["CoreBase", "Liveness", "Outbox", "Peer", "logger"]

logger: Final = library_logger("tickwork.transports.zmq")

Peer = bytes | None
"""A routing id on the binding (ROUTER) end; None on the connecting (DEALER) end."""

Outbox = list[tuple[Peer, bytes]]


@final
class Liveness:
    """When the peer was last heard, and the state that follows from it."""

    __slots__ = ("_on_state", "give_up_after", "heard_ever", "last_heard", "state", "timeout")

    def __init__(
        self,
        now: float,
        peer_timeout: float,
        give_up_after: float | None,
        on_state: Callable[[PeerState], object] | None,
    ) -> None:
        self.timeout: float = peer_timeout
        self.give_up_after: float | None = give_up_after
        self._on_state = on_state
        self.last_heard: float = now
        self.heard_ever: bool = False
        self.state: PeerState = "connecting"

    def heard(self, now: float) -> None:
        """The peer said something valid at ``now``."""
        self.last_heard = now
        self.heard_ever = True
        if self.state in ("connecting", "silent"):
            self.set("up")

    def set(self, state: PeerState) -> None:
        """Move to ``state`` and tell the status callback (terminal states stick)."""
        if state == self.state or self.state in ("gone", "closed"):
            return
        self.state = state
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                logger.exception("on_peer_state callback failed for state %r", state)

    def check(self, now: float) -> bool:
        """Update ``silent``/``gone`` for ``now``; True when it just gave up."""
        if self.state in ("gone", "closed"):
            return False
        silence = now - self.last_heard
        if self.give_up_after is not None and silence >= self.give_up_after:
            self.set("gone")
            return True
        if self.state == "up" and silence >= self.timeout:
            self.set("silent")
        return False

    def silent_for(self, now: float) -> float | None:
        """Seconds since the peer was last heard; None if it never was."""
        return now - self.last_heard if self.heard_ever else None


class CoreBase:
    """The outbox and liveness of one protocol core (sender or receiver)."""

    __slots__ = ("blocked", "bound", "changed", "failure", "live", "out")

    def __init__(self, *, bound: bool, live: Liveness) -> None:
        self.bound: bool = bound
        self.live: Liveness = live
        self.out: Outbox = []
        self.changed: bool = False
        self.failure: str | None = None
        self.blocked: bool = False  # the socket refused a frame: retry() when writable

    def mark_changed(self) -> None:
        """Parked callers should look again (the endpoint wakes them after this input)."""
        self.changed = True

    def mark_blocked(self, blocked: bool) -> None:
        """Whether the socket refused a frame that ``retry()`` must send again."""
        self.blocked = blocked

    def on_frames(self, frames: list[tuple[Peer, bytes | None]], now: float) -> None:
        """Handle frames that arrived together (one drain of the socket)."""
        heard = False
        on_frame = self.on_frame
        for peer, frame in frames:
            if on_frame(peer, frame):
                heard = True
        if heard:
            self.live.heard(now)

    def on_frame(self, peer: Peer, frame: bytes | None) -> bool:
        """Handle one frame; True if it came from the current peer (it was heard)."""
        raise NotImplementedError

    def on_connected(self) -> None:
        """The connecting end completed a connection handshake: probe the peer."""
        self.out.append((None, b""))

    def on_refused(self, reason: str) -> None:
        """The connection cannot work (the handshake was refused): fail for good."""
        if self.failure is None:
            self.failure = reason
            self.mark_changed()

    def on_tick(self, now: float) -> None:
        """Heartbeat time: say something to the peer, check its silence."""
        raise NotImplementedError

    def on_send_failed(self, peer: Peer, frame: bytes) -> bool:
        """The endpoint could not hand ``frame`` to the socket (full, or peer gone).

        True: do not send the rest of this outbox either (they are reported too).
        """
        return False

    def retry(self) -> None:
        """The socket is writable again after a refused frame."""

    def after_flush(self) -> None:
        """The endpoint handed (or failed to hand) every frame of ``out`` to the socket."""

    def is_done(self) -> bool:
        """Nothing left that closing should wait for (the linger)."""
        return True
