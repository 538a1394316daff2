"""Optional CURVE encryption and authentication, with an allow-list of client keys.

The CURVE *server* holds a key pair and a set of allowed client public keys; a
*client* holds its own key pair and the server's public key. Either end of a channel
may be the server (usually the one that binds). A peer without CURVE, or whose public
key is not allowed, never completes the handshake, so nothing it sends is delivered.

Client keys are checked by a ZAP handler (pyzmq's ``ThreadAuthenticator``): one per
ZeroMQ context, shared by every CURVE server socket of that context, each socket with
its own ZAP domain and allow-list.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, final

import anyio
import anyio.to_thread
import zmq
import zmq.auth.thread

from tickwork import WallClock

from ._errors import TransportError

__all__ = ["CurveClient", "CurveServer", "ZapRegistration", "curve_keypair", "register_zap"]

_KEY_LENGTH: Final = 40  # z85 text of a 32-byte key


def curve_keypair() -> tuple[bytes, bytes]:
    """A new ``(public_key, secret_key)`` pair, z85-encoded (40 bytes each)."""
    public, secret = zmq.curve_keypair()
    return public, secret


def _check_key(key: object, what: str) -> bytes:
    if isinstance(key, str):
        key = key.encode("ascii")
    if not isinstance(key, bytes) or len(key) != _KEY_LENGTH:
        raise ValueError(
            f"{what} must be a z85-encoded CURVE key of {_KEY_LENGTH} bytes "
            "(see tickwork.transports.zmq.curve_keypair())"
        )
    return key


@final
@dataclass(frozen=True, slots=True)
class CurveServer:
    """This end is the CURVE server: its key pair and the client keys it accepts.

    ``allowed_clients`` holds z85 public keys; an empty set admits nobody.
    """

    public_key: bytes
    secret_key: bytes
    allowed_clients: frozenset[bytes]

    def __init__(self, public_key: bytes, secret_key: bytes, allowed_clients: Iterable[bytes]):
        object.__setattr__(self, "public_key", _check_key(public_key, "CurveServer public_key"))
        object.__setattr__(self, "secret_key", _check_key(secret_key, "CurveServer secret_key"))
        allowed = frozenset(_check_key(k, "an allowed client key") for k in allowed_clients)
        object.__setattr__(self, "allowed_clients", allowed)

    def __repr__(self) -> str:
        # Never print the secret key.
        return f"CurveServer(public_key={self.public_key!r}, {len(self.allowed_clients)} clients)"


@final
@dataclass(frozen=True, slots=True)
class CurveClient:
    """This end is a CURVE client: its key pair and the server's public key."""

    server_key: bytes
    public_key: bytes
    secret_key: bytes

    def __init__(self, server_key: bytes, public_key: bytes, secret_key: bytes) -> None:
        object.__setattr__(self, "server_key", _check_key(server_key, "CurveClient server_key"))
        object.__setattr__(self, "public_key", _check_key(public_key, "CurveClient public_key"))
        object.__setattr__(self, "secret_key", _check_key(secret_key, "CurveClient secret_key"))

    def __repr__(self) -> str:
        return f"CurveClient(server_key={self.server_key!r}, public_key={self.public_key!r})"


class _AllowLists:
    """The ZAP credentials provider: one allow-list per ZAP domain."""

    def __init__(self) -> None:
        self.domains: dict[str, frozenset[bytes]] = {}

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.domains.get(domain, frozenset[bytes]())


_ZAP_REBIND_WAIT: Final = 0.002
"""Seconds between attempts to bind the ZAP address while libzmq still holds it."""

_ZAP_REBIND_TRIES: Final = 500
"""Attempts before giving up (about a second): reaping takes microseconds normally."""


class _Zap:
    """One running authenticator and its allow-lists, shared within a context."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        self.auth = zmq.auth.thread.ThreadAuthenticator(context)
        self.lists = _AllowLists()
        self.users = 0
        self.started = False

    def try_start(self) -> bool:
        """Start the authenticator thread (blocks until it runs: call it in a worker).

        False while the previous authenticator's ZAP address is still taken: the old
        socket is closed, but libzmq frees the inproc address in its reaper thread, a
        moment later.
        """
        try:
            self.auth.start()
        except zmq.ZMQError as exc:
            self.auth.stop()
            if exc.errno != zmq.EADDRINUSE:
                raise
            return False
        self.started = True
        return True


_registry: dict[int, _Zap] = {}
_registry_lock = threading.Lock()  # held for dict updates only, never across an await
_domains = itertools.count(1)


@final
class ZapRegistration:
    """One CURVE server socket's entry in its context's authenticator."""

    __slots__ = ("_context_id", "domain")

    def __init__(self, context_id: int, domain: str) -> None:
        self._context_id = context_id
        self.domain = domain

    async def release(self) -> None:
        """Forget this socket's allow-list; stop the authenticator with the last one.

        Stopping joins the authenticator's thread, so it runs in a worker thread.
        """
        with _registry_lock:
            zap = _registry.get(self._context_id)
            if zap is None:
                return
            zap.lists.domains.pop(self.domain, None)
            zap.users -= 1
            last = zap.users == 0
            if last:
                del _registry[self._context_id]
        if last:
            await anyio.to_thread.run_sync(zap.auth.stop)


async def register_zap(
    context: zmq.Context[zmq.Socket[bytes]], allowed: frozenset[bytes]
) -> ZapRegistration:
    """Make sure ``context`` has a ZAP handler; give the caller a domain with ``allowed``.

    Nothing here blocks the event loop: the authenticator thread starts in a worker
    thread, and a still-taken ZAP address is retried on the (wall) clock.
    """
    with _registry_lock:
        zap = _registry.get(id(context))
        owner = zap is None
        if zap is None:
            zap = _registry[id(context)] = _Zap(context)
        zap.users += 1
        domain = f"tickwork-{next(_domains)}"
        zap.lists.domains[domain] = allowed
    registration = ZapRegistration(id(context), domain)
    try:
        clock = WallClock()
        for _ in range(_ZAP_REBIND_TRIES):
            if zap.started or (owner and await anyio.to_thread.run_sync(zap.try_start)):
                break
            # The ZAP address is still taken, or another task is starting this one.
            await clock.sleep(_ZAP_REBIND_WAIT)
        else:
            raise TransportError(
                "cannot start the CURVE authenticator: the ZAP address stayed in use for "
                f"{_ZAP_REBIND_TRIES * _ZAP_REBIND_WAIT:.0f} s"
            )
        zap.auth.configure_curve_callback(domain, credentials_provider=zap.lists)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await registration.release()
        raise
    return registration
