"""The control plane's two one-way pipes: a PUSH socket to send, a PULL socket to receive.

One socket per direction keeps ZeroMQ's edge-triggered ``ZMQ_FD`` simple: only the one
task that reads a PULL socket ever touches it, so no send can eat the edge that would
wake the reader (see tickwork.transports.zmq's ``_socket`` module for the general case).
Both are non-blocking pyzmq sockets waited on with ``anyio.wait_readable``, so they work
on asyncio and trio alike.
"""

from __future__ import annotations

from typing import Any, Final, cast, final

import anyio
import anyio.lowlevel
import zmq

__all__ = ["Inbox", "Outbox"]

_HWM: Final = 10_000
"""Queued messages per pipe before sends fail: far above what heartbeats and logs need."""


def _pipe_end(
    context: zmq.Context[Any], kind: int, hwm_option: int, address: str, *, bind: bool
) -> zmq.Socket[bytes]:
    """One end of a pipe: no linger, the pipe's high-water mark, bound or connected."""
    sock: zmq.Socket[bytes] = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(hwm_option, _HWM)
    if bind:
        sock.bind(address)
    else:
        sock.connect(address)
    return sock


@final
class Outbox:
    """A PUSH socket: ``send`` queues a frame without waiting, or reports it could not."""

    __slots__ = ("_sock",)

    def __init__(self, context: zmq.Context[Any], address: str, *, bind: bool) -> None:
        self._sock = _pipe_end(context, zmq.PUSH, zmq.SNDHWM, address, bind=bind)

    def send(self, frame: bytes) -> bool:
        """Queue ``frame``; False when nobody is connected or the queue is full."""
        try:
            self._sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            return False
        except zmq.ZMQError:
            return False  # closed meanwhile: the peer is gone either way
        return True

    def close(self, linger_ms: int = 0) -> None:
        """Close, letting queued frames leave for up to ``linger_ms``."""
        self._sock.close(linger_ms)


@final
class Inbox:
    """A PULL socket read by one task: ``await receive()`` returns the next frame."""

    __slots__ = ("_fd", "_sock")

    def __init__(self, context: zmq.Context[Any], address: str, *, bind: bool) -> None:
        sock = self._sock = _pipe_end(context, zmq.PULL, zmq.RCVHWM, address, bind=bind)
        self._fd = cast(int, sock.getsockopt(zmq.FD))

    def receive_nowait(self) -> bytes | None:
        """The next frame if one is waiting, else None."""
        try:
            return self._sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return None

    async def receive(self) -> bytes:
        """Wait for the next frame (drains first, then waits on the descriptor's edge)."""
        while True:
            frame = self.receive_nowait()
            if frame is not None:
                await anyio.lowlevel.checkpoint()
                return frame
            await anyio.wait_readable(self._fd)

    def close(self) -> None:
        """Close the socket (queued frames are dropped)."""
        self._sock.close(0)
