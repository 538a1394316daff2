"""The narrow slot between the protocol and ZeroMQ: frames in, frames out, a readiness wait.

``ZmqWire`` wraps one non-blocking pyzmq socket so the same code runs on asyncio and
trio: no ``zmq.asyncio``, just ``NOBLOCK`` calls and ``anyio.wait_readable`` on the
socket's ``ZMQ_FD``. That descriptor is edge-triggered: it signals that the socket's
state *changed*, and every ZeroMQ call on the socket (a send included) may consume the
signal. So readers drain until nothing is left and re-read ``ZMQ_EVENTS`` before every
wait, and whoever sends checks ``ZMQ_EVENTS`` afterwards (``readable()``).

The binding end is a ROUTER (it addresses its current peer by routing id and learns of
new connections from ``ZMQ_PROBE_ROUTER`` probes); the connecting end is a DEALER.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Final, Protocol, cast, final

import anyio
import zmq
import zmq.utils.monitor

from tickwork import WallClock

from ._core import Peer
from ._curve import CurveClient, CurveServer, ZapRegistration
from ._errors import ZMQ_EXCEPTIONS, map_exceptions

__all__ = ["Wire", "ZmqWire"]

# Plain ints: pyzmq's constants are enums, and enum arithmetic costs microseconds on the
# per-frame path.
_EVENTS: Final = int(zmq.EVENTS)
_RCVMORE: Final = int(zmq.RCVMORE)
_POLLIN: Final = int(zmq.POLLIN)
_POLLOUT: Final = int(zmq.POLLOUT)
_NOBLOCK: Final = int(zmq.NOBLOCK)
_NOBLOCK_MORE: Final = int(zmq.NOBLOCK) | int(zmq.SNDMORE)

RECONNECT_IVL_MS: Final = 20
RECONNECT_IVL_MAX_MS: Final = 200
MIN_HWM: Final = 1000

_HANDSHAKE_FAILED: Final = (
    int(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
    | int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
    | int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
)
_MONITORED: Final = int(zmq.EVENT_HANDSHAKE_SUCCEEDED) | _HANDSHAKE_FAILED


class Wire(Protocol):
    """What the protocol needs from a socket. ``ZmqWire`` is the real one."""

    @property
    def endpoint(self) -> str:
        """The address, with a wildcard port resolved to the real one."""
        ...

    @property
    def bound(self) -> bool:
        """True for the binding end (which sees several peers)."""
        ...

    def send(self, peer: Peer, frame: bytes) -> bool:
        """Queue ``frame`` for ``peer``; False if it cannot go now (full or unroutable)."""
        ...

    def recv(self) -> tuple[Peer, bytes | None] | None:
        """The next ``(peer, frame)``, ``(peer, None)`` for a multipart message, or None."""
        ...

    def readable(self) -> bool:
        """A frame is waiting (reads ZMQ_EVENTS, so also re-arms the edge)."""
        ...

    def writable(self) -> bool:
        """A send would not block now."""
        ...

    async def wait(self) -> None:
        """Wait until the socket's state may have changed; callers re-check after."""
        ...

    async def wait_connected(self) -> str | None:
        """Return after each connection handshake (connecting end only).

        None when it succeeded; why, when the peer refused it (CURVE authentication).
        """
        ...

    def describe(self, peer: Peer) -> str:
        """A peer's name for messages: the address and, when bound, its routing id."""
        ...

    async def aclose(self) -> None:
        """Close the socket (queued frames are dropped: the protocol resends)."""
        ...


@final
class ZmqWire:
    """One non-blocking ROUTER (bind) or DEALER (connect) socket."""

    __slots__ = (
        "_bound",
        "_closed",
        "_curve",
        "_endpoint",
        "_fd",
        "_getsockopt",
        "_monitor",
        "_monitor_fd",
        "_recv",
        "_send",
        "_sock",
        "_zap",
    )

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        address: str,
        *,
        bind: bool,
        hwm: int,
        curve: CurveServer | CurveClient | None,
        zap: ZapRegistration | None,
    ) -> None:
        """Open the socket; a CURVE server brings its ZAP registration (``register_zap``)."""
        self._bound = bind
        self._closed = False
        self._curve = curve is not None
        self._zap: ZapRegistration | None = zap
        with map_exceptions(ZMQ_EXCEPTIONS, f"cannot open a ZeroMQ socket for {address!r}"):
            sock: zmq.Socket[bytes] = context.socket(zmq.ROUTER if bind else zmq.DEALER)
        try:
            with map_exceptions(ZMQ_EXCEPTIONS, f"cannot set up the socket for {address!r}"):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.SNDHWM, hwm)
                sock.setsockopt(zmq.RCVHWM, hwm)
                if bind:
                    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
                else:
                    sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
                    sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
                if isinstance(curve, CurveServer):
                    assert zap is not None, "a CURVE server socket needs its ZAP registration"
                    sock.setsockopt(zmq.ZAP_DOMAIN, zap.domain.encode())
                    sock.setsockopt(zmq.CURVE_SERVER, 1)
                    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret_key)
                elif isinstance(curve, CurveClient):
                    sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server_key)
                    sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.public_key)
                    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret_key)
                # A DEALER says nothing when it reconnects (ZMQ_PROBE_ROUTER only probes the
                # first connection), so watch its handshakes (from before the first one)
                # and probe on each; a failed one tells a refused CURVE client why.
                self._monitor: zmq.Socket[bytes] | None = (
                    None if bind else sock.get_monitor_socket(_MONITORED)
                )
                self._monitor_fd: int = (
                    -1 if self._monitor is None else self._monitor.getsockopt(zmq.FD)  # pyright: ignore[reportAttributeAccessIssue]
                )
            verb = "bind to" if bind else "connect to"
            with map_exceptions(ZMQ_EXCEPTIONS, f"cannot {verb} {address!r}"):
                if bind:
                    _check_ipc_free(address)
                    sock.bind(_wildcard_port(address))
                    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
                    self._endpoint = (
                        endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
                    )
                else:
                    sock.connect(address)
                    self._endpoint = address
                self._fd: int = sock.getsockopt(zmq.FD)  # pyright: ignore[reportAttributeAccessIssue]
        except BaseException:
            monitor = getattr(self, "_monitor", None)
            if monitor is not None:
                monitor.close(0)
            sock.close(0)
            raise
        self._sock = sock
        # The backend's methods directly: pyzmq's Python-level wrappers convert every
        # option and flag to an enum, which costs more than the call on this path.
        backend = super(zmq.Socket, sock)
        self._getsockopt = cast("Callable[[int], int]", backend.get)
        self._send = cast("Callable[[bytes, int], object]", backend.send)
        self._recv = cast("Callable[[int], bytes]", backend.recv)

    def __repr__(self) -> str:
        return f"<ZmqWire {'bound to' if self._bound else 'connected to'} {self._endpoint}>"

    @property
    def endpoint(self) -> str:
        """The address, with a wildcard port resolved to the one the OS chose."""
        return self._endpoint

    @property
    def bound(self) -> bool:
        """True for the binding (ROUTER) end."""
        return self._bound

    def send(self, peer: Peer, frame: bytes) -> bool:
        """Queue ``frame``; False when the peer's queue is full or the peer is gone."""
        try:
            if peer is not None:
                self._send(peer, _NOBLOCK_MORE)
            self._send(frame, _NOBLOCK)
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                return False
            raise
        return True

    def recv(self) -> tuple[Peer, bytes | None] | None:
        """The next frame, or None when none is waiting."""
        recv = self._recv
        try:
            first = recv(_NOBLOCK)
        except zmq.Again:
            return None
        if not self._bound:
            return None, first
        frame = recv(_NOBLOCK)
        if self._getsockopt(_RCVMORE):
            while self._getsockopt(_RCVMORE):
                recv(_NOBLOCK)
            return first, None
        return first, frame

    def readable(self) -> bool:
        """A frame is waiting."""
        return bool(self._getsockopt(_EVENTS) & _POLLIN)

    def writable(self) -> bool:
        """A send would not block."""
        return bool(self._getsockopt(_EVENTS) & _POLLOUT)

    async def wait(self) -> None:
        """Wait for ZMQ_FD to signal; callers re-check ``readable()`` afterwards."""
        await anyio.wait_readable(self._fd)

    async def wait_connected(self) -> str | None:
        """After each connection handshake: None, or why the peer refused it."""
        monitor = self._monitor
        if monitor is None:
            await anyio.sleep_forever()
            return None
        while True:
            while cast(int, monitor.getsockopt(_EVENTS)) & _POLLIN:
                try:
                    message = monitor.recv_multipart(_NOBLOCK)
                except zmq.Again:
                    break
                event = int(zmq.utils.monitor.parse_monitor_message(message)["event"])
                if not event & _HANDSHAKE_FAILED:
                    return None
                refused = self._refusal(event)
                if refused is not None:
                    return refused
            await anyio.wait_readable(self._monitor_fd)

    def _refusal(self, event: int) -> str | None:
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return (
                f"authentication failed: the CURVE server at {self._endpoint} refused this "
                "end's key (add its public key to the server's allowed_clients)"
            )
        if self._curve:
            return (
                f"the CURVE handshake with {self._endpoint} failed (libzmq event "
                f"{zmq.Event(event).name}): give both ends CURVE, with the server's public key "
                "on the client"
            )
        return None  # without CURVE, a failed handshake is a passing fault: reconnect

    def describe(self, peer: Peer) -> str:
        """``tcp://127.0.0.1:5555 (peer 0080000001)`` or the connected address."""
        if peer is None:
            return f"the peer at {self._endpoint}"
        return f"peer {peer.hex()} on {self._endpoint}"

    async def aclose(self) -> None:
        """Close the socket (and release the ZAP registration, off the event loop)."""
        if self._closed:
            return
        self._closed = True
        if self._monitor is not None:
            self._sock.disable_monitor()
            self._monitor.close(0)
        self._sock.close(0)
        path = _ipc_path(self._endpoint) if self._bound else None
        if path is not None:
            # libzmq closes the listener in its I/O thread, a moment later: wait for it,
            # so that binding the path again right after this is not refused as in use.
            clock = WallClock()
            for _ in range(_IPC_RELEASE_TRIES):
                if not _ipc_listening(path):
                    break
                await clock.sleep(_IPC_RELEASE_WAIT)
        zap, self._zap = self._zap, None
        if zap is not None:
            await zap.release()


_IPC: Final = "ipc://"


_IPC_RELEASE_WAIT: Final = 0.002
"""Seconds between looks while libzmq's I/O thread closes a closed socket's ipc listener."""

_IPC_RELEASE_TRIES: Final = 50
"""Looks before closing gives up waiting (0.1 s; it takes microseconds normally)."""


def _ipc_path(address: str) -> str | None:
    """The file of an ``ipc://`` address; None for other transports and abstract names."""
    if not address.startswith(_IPC) or address.startswith(_IPC + "@"):
        return None
    return address[len(_IPC) :]


def _ipc_listening(path: str) -> bool:
    """Whether a live socket accepts connections on ``path`` (never blocks)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
    except OSError as exc:
        return exc.errno == errno.EAGAIN  # a full backlog: someone listens
    finally:
        probe.close()
    return True


def _check_ipc_free(address: str) -> None:
    """Refuse to bind an ipc:// path another live socket listens on.

    libzmq unlinks an existing socket file and binds anyway, so a second binder would
    silently take every new connection from the first. A file nobody listens on (left by
    a killed process) is fine: connecting to it is refused at once.
    """
    path = _ipc_path(address)
    if path is not None and _ipc_listening(path):
        raise zmq.ZMQError(errno.EADDRINUSE)


def _wildcard_port(address: str) -> str:
    """``tcp://host:0`` means "any free port", as ZeroMQ's own ``tcp://host:*`` does."""
    if address.startswith("tcp://") and address.endswith(":0"):
        return address[:-1] + "*"
    return address
