"""A raw ZeroMQ peer for tests: speaks the documented wire format (version 2) by hand.

Independent of the transport's own frame code on purpose, so the tests check the
format as documented. Non-blocking sockets plus ``anyio.wait_readable`` on ZMQ_FD,
so it works inside an async test on both backends without blocking the loop.
"""

from __future__ import annotations

import struct
from typing import Any, Final, cast

import anyio
import msgspec
import zmq

DATA_HEAD: Final = struct.Struct("<BQQ")
EPOCH: Final = struct.Struct("<BQ")
WELCOME: Final = struct.Struct("<B2sBQQQQ")
HELLO: Final = struct.Struct("<B2sBQQQQB")
ACK: Final = struct.Struct("<BQQQQB")
VERSION: Final = 2


class RawPeer:
    """One raw DEALER or ROUTER socket with async recv."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self.sock = sock
        self.fd = cast(int, sock.getsockopt(zmq.FD))
        self.peer: bytes | None = None

    @classmethod
    def dealer(cls, address: str, *, connect: bool = True, **options: Any) -> RawPeer:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        if connect:
            sock.connect(address)
        return cls(sock)

    @classmethod
    def router(cls, address: str) -> tuple[RawPeer, str]:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(address)
        endpoint = cast(bytes, sock.getsockopt(zmq.LAST_ENDPOINT)).decode()
        return cls(sock), endpoint

    def send(self, frame: bytes) -> None:
        if self.sock.type == zmq.ROUTER:
            assert self.peer is not None
            self.sock.send_multipart([self.peer, frame])
        else:
            self.sock.send(frame)

    async def recv(self) -> bytes:
        while True:
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                await anyio.wait_readable(self.fd)
                continue
            if self.sock.type == zmq.ROUTER:
                self.peer = parts[0]
                return parts[1]
            return parts[0]

    def close(self) -> None:
        self.sock.close(0)


async def greet_as_sender(raw: RawPeer, *, session: int = 12345, window: int = 1 << 20) -> int:
    """Play the sender's side of the handshake with a binding receiver; its epoch."""
    raw.send(b"")  # a connection probe: the receiver answers with HELLO
    while True:
        frame = await raw.recv()
        if frame and frame[0] == 0x11:
            break
    _, magic, version, epoch, *_ = HELLO.unpack(frame)
    assert (magic, version) == (b"tw", VERSION)
    raw.send(WELCOME.pack(0x04, b"tw", VERSION, epoch, session, 0, window))
    return epoch


def data(epoch: int, seq: int, *payloads: bytes) -> bytes:
    """A DATA frame: the header, then the payloads as a msgpack array of bin."""
    return DATA_HEAD.pack(0x01, epoch, seq) + msgspec.msgpack.encode(list(payloads))
