"""An in-process stand-in for the ZeroMQ socket: ``memory://name`` addresses.

It implements the same narrow ``Wire`` slot as ``ZmqWire`` (frames in, frames out, a
readiness wait), with ROUTER/DEALER manners: the binding end addresses connections by
routing id, the connecting end (re)connects whenever a binder for its name appears and
hears about it through ``wait_connected``. No sockets, threads or descriptors are
involved, so everything that happens is visible to SimClock's quiescence check: tests
of protocol behaviour over ``memory://`` are deterministic. Use it like any address::

    async with open_zmq_channel("memory://jobs", maxsize=8) as ch: ...
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Final, final

import anyio

from ._errors import TransportError

__all__ = ["SCHEME", "MemoryWire"]

SCHEME: Final = "memory://"

_binders: dict[str, MemoryWire] = {}
_connectors: dict[str, set[MemoryWire]] = {}
_ids = itertools.count(1)


@final
class MemoryWire:
    """One end of an in-process link; bound ends see many peers, connecting ends one."""

    __slots__ = (
        "_bound",
        "_closed",
        "_connected",
        "_endpoint",
        "_inbox",
        "_name",
        "_peers",
        "_rid",
        "_server",
        "_signal",
        "_wake",
    )

    def __init__(self, address: str, *, bind: bool) -> None:
        name = address[len(SCHEME) :]
        if not name:
            raise TransportError(f"cannot use {address!r}: memory:// needs a name")
        self._name = name
        self._endpoint = address
        self._bound = bind
        self._closed = False
        self._inbox: deque[tuple[bytes | None, bytes]] = deque()
        self._wake: anyio.Event | None = None
        self._signal: anyio.Event | None = None
        self._connected = 0  # connections seen and not yet reported by wait_connected
        self._peers: dict[bytes, MemoryWire] = {}  # bound end: routing id -> connector
        self._server: MemoryWire | None = None  # connecting end: the binder
        self._rid = b""
        if bind:
            if name in _binders:
                raise TransportError(f"cannot bind to {address!r}: Address already in use")
            _binders[name] = self
            for connector in list(_connectors.get(name, ())):
                connector._attach(self)
        else:
            _connectors.setdefault(name, set()).add(self)
            server = _binders.get(name)
            if server is not None:
                self._attach(server)

    def __repr__(self) -> str:
        return f"<MemoryWire {'bound to' if self._bound else 'connected to'} {self._endpoint}>"

    def _attach(self, server: MemoryWire) -> None:
        self._server = server
        self._rid = next(_ids).to_bytes(4, "big")
        server._peers[self._rid] = self
        self._connected += 1
        self._notify_connected()

    def _notify_connected(self) -> None:
        if self._signal is not None:
            self._signal.set()

    def _deliver(self, peer: bytes | None, frame: bytes) -> None:
        self._inbox.append((peer, frame))
        if self._wake is not None:
            self._wake.set()

    @property
    def endpoint(self) -> str:
        """The ``memory://`` address."""
        return self._endpoint

    @property
    def bound(self) -> bool:
        """True for the binding end."""
        return self._bound

    def send(self, peer: bytes | None, frame: bytes) -> bool:
        """Deliver ``frame`` at once; False if the peer is not connected."""
        if self._closed:
            return False
        if self._bound:
            target = self._peers.get(peer) if peer is not None else None
            if target is None:
                return False
            target._deliver(None, frame)
            return True
        server = self._server
        if server is None:
            return False
        server._deliver(self._rid, frame)
        return True

    def recv(self) -> tuple[bytes | None, bytes | None] | None:
        """The next ``(peer, frame)``, or None."""
        inbox = self._inbox
        return inbox.popleft() if inbox else None

    def readable(self) -> bool:
        """A frame is waiting."""
        return bool(self._inbox)

    def writable(self) -> bool:
        """Sends never block here."""
        return True

    async def wait(self) -> None:
        """Wait until a frame arrives."""
        if self._inbox:
            return
        self._wake = anyio.Event()
        try:
            await self._wake.wait()
        finally:
            self._wake = None

    async def wait_connected(self) -> str | None:
        """Return (None: nothing refuses here) after each (re)connection of a connecting end."""
        if self._bound:
            await anyio.sleep_forever()
        while not self._connected:
            self._signal = anyio.Event()
            try:
                await self._signal.wait()
            finally:
                self._signal = None
        self._connected -= 1
        return None

    def describe(self, peer: bytes | None) -> str:
        """The peer's name in messages."""
        if peer is None:
            return f"the peer at {self._endpoint}"
        return f"peer {peer.hex()} on {self._endpoint}"

    async def aclose(self) -> None:
        """Disconnect; a binder's connectors will reconnect to the next binder."""
        if self._closed:
            return
        self._closed = True
        if self._bound:
            if _binders.get(self._name) is self:
                del _binders[self._name]
            for connector in self._peers.values():
                if connector._server is self:
                    connector._server = None
            self._peers.clear()
        else:
            _connectors.get(self._name, set()).discard(self)
            if self._server is not None:
                self._server._peers.pop(self._rid, None)
                self._server = None
