"""What both endpoints share: peer liveness, the socket pump, the heartbeat timer, opening.

Each endpoint runs two background tasks while its ``open_zmq_*`` block is active: the
pump (waits on the socket's ZMQ_FD, drains every frame, wakes parked callers) and the
ticker (every ``heartbeat_interval`` of the endpoint's Clock: heartbeat, silence and
give-up checks). Callers never wait on the descriptor themselves; they drain the socket
inline when they can, and otherwise park on an event the pump sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType
from typing import Final, Generic, Self, TypeVar, final

import anyio
import anyio.abc
import anyio.lowlevel

from tickwork import Clock
from tickwork._internals import FairnessBudget, NoPublicConstructor
from tickwork._logging import library_logger

from ._socket import Wire
from ._stats import PeerState

__all__ = ["Link", "Liveness", "Opening"]

logger: Final = library_logger("tickwork.transports.zmq")


@final
class Liveness:
    """When the peer was last heard, and the state that follows from it."""

    __slots__ = (
        "_on_state",
        "clock",
        "give_up_after",
        "heard_ever",
        "last_heard",
        "state",
        "timeout",
    )

    def __init__(
        self,
        clock: Clock,
        peer_timeout: float,
        give_up_after: float | None,
        on_state: Callable[[PeerState], object] | None,
    ) -> None:
        self.clock: Clock = clock
        self.timeout: float = peer_timeout
        self.give_up_after: float | None = give_up_after
        self._on_state = on_state
        self.last_heard: float = clock.now()
        self.heard_ever: bool = False
        self.state: PeerState = "connecting"

    def heard(self) -> None:
        """The peer said something valid just now."""
        self.last_heard = self.clock.now()
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

    def check(self) -> bool:
        """Update ``silent``/``gone`` from the clock; True when it just gave up."""
        if self.state in ("gone", "closed"):
            return False
        silence = self.clock.now() - self.last_heard
        if self.give_up_after is not None and silence >= self.give_up_after:
            self.set("gone")
            return True
        if self.state == "up" and silence >= self.timeout:
            self.set("silent")
        return False

    def silent_for(self) -> float | None:
        """Seconds since the peer was last heard; None if it never was."""
        return self.clock.now() - self.last_heard if self.heard_ever else None


class Link(
    metaclass=NoPublicConstructor,
    factory="open_zmq_send(), open_zmq_receive() or open_zmq_channel()",
):
    """Socket, clock and liveness of one endpoint, plus the background loops."""

    __slots__ = (
        "_budget",
        "_heartbeat",
        "_in_incoming",
        "_live",
        "_out_blocked",
        "_wire",
        "_wire_open",
    )

    def __init__(self, wire: Wire, live: Liveness, heartbeat_interval: float) -> None:
        self._wire = wire
        self._wire_open = True
        self._live = live
        self._heartbeat = heartbeat_interval
        self._budget = FairnessBudget()
        self._in_incoming = False
        self._out_blocked = False

    @property
    def endpoint(self) -> str:
        """The address this endpoint is bound or connected to (wildcard port resolved)."""
        return self._wire.endpoint

    @property
    def peer_state(self) -> PeerState:
        """How this endpoint sees its peer (see :data:`PeerState`)."""
        return self._live.state

    # -- what the concrete endpoints provide -----------------------------------------

    def _on_frame(self, peer: bytes | None, frame: bytes | None) -> bool:
        """Handle one frame; True if it came from the current peer (so it was heard)."""
        raise NotImplementedError

    def _on_writable(self) -> None:
        """The socket can take frames again after a send would have blocked."""

    def _on_tick(self) -> None:
        """Heartbeat time: say something to the peer."""

    def _on_give_up(self) -> None:
        """The peer was silent past ``give_up_after``."""

    def _is_done(self) -> bool:
        """Nothing left that closing should wait for (used by the linger)."""
        return True

    async def _wait_done(self) -> None:
        """Wait until ``_is_done()`` (the endpoint wakes it)."""

    def _close_now(self) -> None:
        """Close this side (the sync ``close()``)."""

    # -- the machinery ----------------------------------------------------------------

    def _process_incoming(self) -> None:
        """Drain every waiting frame (callers and the pump both use this)."""
        if self._in_incoming or not self._wire_open:
            return
        self._in_incoming = True
        heard = False
        recv = self._wire.recv
        on_frame = self._on_frame
        try:
            while True:
                got = recv()
                if got is None:
                    break
                if on_frame(got[0], got[1]):
                    heard = True
        finally:
            self._in_incoming = False
        if heard:
            self._live.heard()

    def _after_send(self) -> None:
        """A send may have eaten ZMQ_FD's edge: pick up frames that are already here."""
        if not self._in_incoming and self._wire.readable():
            self._process_incoming()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_now()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close_now()

    def _start_background(self, tg: anyio.abc.TaskGroup) -> None:
        """Start the socket pump, the heartbeat ticker and (connecting side) the monitor.

        Called once, by ``Opening`` (this module's lifecycle owner).
        """
        tg.start_soon(self._pump)
        tg.start_soon(self._ticker)
        if not self._wire.bound:
            tg.start_soon(self._connections)

    async def _finish_background(self, tg: anyio.abc.TaskGroup, linger_ms: int) -> None:
        """Close, linger until the peer has what it is owed, stop the tasks, close the socket.

        The caller's exception (cancellation included) passes through unwrapped: the
        background tasks are stopped after a shielded close and never see it.
        """
        try:
            with anyio.CancelScope(shield=True):
                self._close_now()
                if linger_ms > 0 and not self._is_done():
                    with anyio.move_on_after(linger_ms / 1000):
                        await self._wait_done()
        finally:
            self._wire_open = False
            tg.cancel_scope.cancel()
            try:
                await tg.__aexit__(None, None, None)
            finally:
                self._wire.close(0)

    async def _pump(self) -> None:
        wire = self._wire
        while True:
            if wire.readable():
                self._process_incoming()
                await anyio.lowlevel.checkpoint()
                continue
            if self._out_blocked and wire.writable():
                self._out_blocked = False
                self._on_writable()
                if not self._out_blocked:
                    continue
            await wire.wait()

    async def _connections(self) -> None:
        """On each new connection of a connecting end, probe: the peer then greets."""
        while True:
            await self._wire.wait_connected()
            if self._wire_open:
                self._on_connected()

    def _on_connected(self) -> None:
        self._wire.send(None, b"")
        self._after_send()

    async def _ticker(self) -> None:
        async for _ in self._live.clock.every(self._heartbeat):
            if not self._wire_open:
                return
            self._on_tick()
            if self._live.check():
                self._on_give_up()
            self._after_send()


E = TypeVar("E", bound=Link)


@final
class Opening(Generic[E]):
    """``async with open_zmq_*(...) as endpoint:``: the socket and its background tasks.

    On exit the endpoint is closed, then waits (shielded, at most ``linger_ms`` of wall
    time) until the peer has everything this side owes it, and the socket is closed.
    """

    __slots__ = ("_endpoint", "_factory", "_linger_ms", "_tg")

    def __init__(self, factory: Callable[[], E], linger_ms: int) -> None:
        self._factory = factory
        self._linger_ms = linger_ms
        self._endpoint: E | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> E:
        if self._endpoint is not None:
            raise RuntimeError("this open_zmq_* context manager is already in use")
        endpoint = self._factory()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        endpoint._start_background(tg)  # pyright: ignore[reportPrivateUsage]
        self._endpoint = endpoint
        self._tg = tg
        return endpoint

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        endpoint, tg = self._endpoint, self._tg
        assert endpoint is not None
        assert tg is not None
        await endpoint._finish_background(tg, self._linger_ms)  # pyright: ignore[reportPrivateUsage]


def window_of(maxsize: float) -> int:
    """The credit window for ``maxsize`` (``math.inf`` -> effectively unbounded)."""
    from ._frames import UNBOUNDED

    return UNBOUNDED if math.isinf(maxsize) else int(maxsize)
