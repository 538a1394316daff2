"""systemd's notify protocol, spoken directly: one datagram per message to ``$NOTIFY_SOCKET``.

The protocol is a datagram of newline-separated ``KEY=VALUE`` assignments sent to the
``AF_UNIX`` socket named by ``NOTIFY_SOCKET`` (a path, or ``@name`` for the Linux
abstract namespace). The socket is non-blocking: a full receive buffer drops the
message (logged) rather than stalling the event loop.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Final, final

from tickwork._logging import library_logger

__all__ = ["USEC_PER_SECOND", "SystemdNotifier"]

USEC_PER_SECOND: Final = 1_000_000

_log = library_logger("tickwork.hosting")


def _address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``NOTIFY_SOCKET`` value, or None if unsupported."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # the abstract namespace: a leading NUL byte
    if value.startswith("/"):
        return value
    return None


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WATCHDOG_USEC``), or None when off."""
    raw = environ.get("WATCHDOG_USEC", "")
    if not raw:
        return None
    pid = environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog belongs to another process (an inherited environment)
    try:
        usec = int(raw)
    except ValueError:
        _log.warning("ignoring WATCHDOG_USEC=%r: not an integer number of microseconds", raw)
        return None
    if usec <= 0:
        _log.warning("ignoring WATCHDOG_USEC=%r: it must be > 0", raw)
        return None
    return usec / USEC_PER_SECOND / 2


@final
class SystemdNotifier:
    """Sends ``READY=1``, ``STATUS=...``, ``STOPPING=1`` and ``WATCHDOG=1`` to systemd.

    Build it with :meth:`from_environ`, which returns None when ``NOTIFY_SOCKET`` is not
    set (not running under systemd): nothing is sent then, and nothing else happens.
    ``watchdog_interval`` is half of ``WATCHDOG_USEC`` in seconds (None when systemd
    has no watchdog for this process, including when ``WATCHDOG_PID`` names another).
    """

    __slots__ = ("_address", "_failed", "_socket", "watchdog_interval")

    def __init__(self, address: str | bytes, watchdog_interval: float | None) -> None:
        self._address = address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)
        self._failed = False
        self.watchdog_interval: float | None = watchdog_interval

    def __repr__(self) -> str:
        return f"<SystemdNotifier {self._address!r} watchdog={self.watchdog_interval}>"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier | None:
        """A notifier for ``environ`` (default ``os.environ``); None without NOTIFY_SOCKET."""
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        if not raw:
            return None
        address = _address(raw)
        if address is None:
            _log.warning(
                "ignoring NOTIFY_SOCKET=%r: expected an absolute path or @abstract-name", raw
            )
            return None
        return cls(address, _watchdog_interval(env))

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` assignments in one datagram; True if the kernel took it.

        Never blocks and never raises for a missing or full socket: systemd may not be
        listening yet or may be slow, and the daemons must not suffer for it.
        """
        for item in assignments:
            if "=" not in item or "\n" in item:
                raise ValueError(f"a notify assignment is one 'KEY=VALUE' line, got {item!r}")
        try:
            self._socket.sendto("\n".join(assignments).encode(), self._address)
        except BlockingIOError:
            _log.debug("systemd notify socket is full; dropped %s", assignments)
            return False
        except OSError as exc:
            if not self._failed:  # once, not every watchdog period
                _log.warning("cannot notify systemd at %r: %s", self._address, exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def close(self) -> None:
        """Close the socket; later sends are dropped."""
        self._socket.close()
