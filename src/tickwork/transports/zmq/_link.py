"""What both endpoints share: the socket pump, the heartbeat timer, opening.

Each endpoint runs two background tasks while its ``open_zmq_*`` block is active: the
pump (waits on the socket's ZMQ_FD, drains every frame, wakes parked callers) and the
ticker (every ``heartbeat_interval`` of the endpoint's Clock: heartbeat, silence and
give-up checks). Callers never wait on the descriptor themselves; they drain the socket
inline when they can, and otherwise park on an event the pump sets.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, Self, TypeVar, final

import anyio
import anyio.abc
import anyio.lowlevel

from tickwork import Clock
from tickwork._internals import FairnessBudget, NoPublicConstructor

from ._core import CoreBase, Peer
from ._socket import Wire
from ._stats import PeerState

__all__ = ["Link", "Opening", "window_of"]


class Link(
    metaclass=NoPublicConstructor,
    factory="open_zmq_send(), open_zmq_receive() or open_zmq_channel()",
):
    """Socket and clock of one endpoint around its protocol core, plus the background loops.

    The core decides; the link moves bytes: it drains the socket into the core, hands
    the core's outbox to the socket and wakes parked callers when the core changed.
    """

    __slots__ = (
        "_budget",
        "_clock",
        "_core",
        "_done",
        "_heartbeat",
        "_in_incoming",
        "_wire",
        "_wire_open",
    )

    def __init__(self, wire: Wire, core: CoreBase, clock: Clock, heartbeat_interval: float) -> None:
        self._wire = wire
        self._wire_open = True
        self._core = core
        self._clock = clock
        self._heartbeat = heartbeat_interval
        self._budget = FairnessBudget()
        self._in_incoming = False
        self._done = anyio.Event()

    @property
    def endpoint(self) -> str:
        """The address this endpoint is bound or connected to (wildcard port resolved)."""
        return self._wire.endpoint

    @property
    def peer_state(self) -> PeerState:
        """How this endpoint sees its peer (see :data:`PeerState`)."""
        return self._core.live.state

    # -- what the concrete endpoints provide -----------------------------------------

    def _on_change(self) -> None:
        """The core's state changed: wake whoever waits on it."""

    def _close_now(self) -> None:
        """Close this side (the sync ``close()``)."""

    def _start_extra(self, tg: anyio.abc.TaskGroup) -> None:
        """Start endpoint-specific background tasks."""

    # -- the machinery ----------------------------------------------------------------

    def _process_incoming(self) -> None:
        """Drain every waiting frame into the core (callers and the pump both use this)."""
        if self._in_incoming or not self._wire_open:
            return
        self._in_incoming = True
        frames: list[tuple[Peer, bytes | None]] = []
        try:
            recv = self._wire.recv
            while True:
                got = recv()
                if got is None:
                    break
                frames.append(got)
        finally:
            self._in_incoming = False
        if frames:
            self._core.on_frames(frames, self._clock.now())
            self._settle()

    def _settle(self) -> None:
        """Hand the core's outbox to the socket; wake waiters if the core changed."""
        core = self._core
        while core.out:
            out = core.out
            core.out = []
            if self._wire_open:
                send = self._wire.send
                stop = False
                for peer, frame in out:
                    if stop or not send(peer, frame):
                        stop = core.on_send_failed(peer, frame) or stop
            core.after_flush()
        if core.changed:
            core.changed = False
            if core.is_done():
                self._done.set()
            self._on_change()

    def _after_send(self) -> None:
        """A send may have eaten ZMQ_FD's edge: pick up frames that are already here."""
        if not self._in_incoming and self._wire_open and self._wire.readable():
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
        self._start_extra(tg)

    async def _finish_background(self, tg: anyio.abc.TaskGroup, linger_ms: int) -> None:
        """Close, linger until the peer has what it is owed, stop the tasks, close the socket.

        The caller's exception (cancellation included) passes through unwrapped: the
        background tasks are stopped after a shielded close and never see it.
        """
        try:
            with anyio.CancelScope(shield=True):
                self._close_now()
                self._after_send()
                if linger_ms > 0 and not self._core.is_done():
                    with anyio.move_on_after(linger_ms / 1000):
                        await self._done.wait()
        finally:
            self._wire_open = False
            tg.cancel_scope.cancel()
            try:
                await tg.__aexit__(None, None, None)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._wire.aclose()

    async def _pump(self) -> None:
        wire = self._wire
        core = self._core
        while True:
            if wire.readable():
                self._process_incoming()
                await anyio.lowlevel.checkpoint()
                continue
            if core.blocked and wire.writable():
                core.retry()
                self._settle()
                if not core.blocked:
                    continue
            await wire.wait()

    async def _connections(self) -> None:
        """On each new connection of a connecting end, probe: the peer then greets.

        A refused handshake (CURVE) fails the endpoint for good, with the reason.
        """
        while True:
            refused = await self._wire.wait_connected()
            if not self._wire_open:
                continue
            if refused is None:
                self._core.on_connected()
            else:
                self._core.on_refused(refused)
            self._settle()
            self._after_send()

    async def _ticker(self) -> None:
        clock = self._clock
        async for _ in clock.every(self._heartbeat):
            if not self._wire_open:
                return
            self._core.on_tick(clock.now())
            self._settle()
            self._after_send()


E = TypeVar("E", bound=Link)


@final
class Opening(Generic[E]):
    """``async with open_zmq_*(...) as endpoint:``: the socket and its background tasks.

    On exit the endpoint is closed, then waits (shielded, at most ``linger_ms`` of wall
    time) until the peer has everything this side owes it, and the socket is closed.
    """

    __slots__ = ("_endpoint", "_factory", "_linger_ms", "_tg")

    def __init__(self, factory: Callable[[], Awaitable[E]], linger_ms: int) -> None:
        self._factory = factory
        self._linger_ms = linger_ms
        self._endpoint: E | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> E:
        if self._endpoint is not None:
            raise RuntimeError("this open_zmq_* context manager is already in use")
        endpoint = await self._factory()
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
