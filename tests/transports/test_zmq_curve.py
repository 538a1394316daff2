"""CURVE: only clients on the allow-list get anything through."""

from __future__ import annotations

from typing import cast

import anyio
import zmq
import zmq.utils.monitor

from tickwork.transports.zmq import (
    CurveClient,
    CurveServer,
    MsgpackSerde,
    curve_keypair,
    open_zmq_receive,
    open_zmq_send,
)

from .wire import RawPeer

FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


class HandshakeWatch:
    """A monitor on an attacker's socket, attached before it connects."""

    def __init__(self, raw: RawPeer, events: int) -> None:
        self.raw = raw
        self.monitor = raw.sock.get_monitor_socket(events)
        self.fd = cast(int, self.monitor.getsockopt(zmq.FD))

    async def next_event(self) -> int:
        try:
            while True:
                try:
                    event = zmq.utils.monitor.recv_monitor_message(self.monitor, zmq.NOBLOCK)
                except zmq.Again:
                    await anyio.wait_readable(self.fd)
                    continue
                return int(event["event"])
        finally:
            self.raw.sock.disable_monitor()
            self.monitor.close(0)


async def test_only_allowed_client_keys_deliver() -> None:
    server_public, server_secret = curve_keypair()
    good_public, good_secret = curve_keypair()
    bad_public, bad_secret = curve_keypair()
    server = CurveServer(server_public, server_secret, allowed_clients=[good_public])
    serde: MsgpackSerde[str] = MsgpackSerde(str)
    async with open_zmq_receive(
        "tcp://127.0.0.1:0", maxsize=4, serde=serde, curve=server, linger_ms=0
    ) as rx:
        # A client with a key pair the server does not know, and one without CURVE.
        wrong_key = RawPeer.dealer(
            rx.endpoint,
            connect=False,
            CURVE_SERVERKEY=server_public,
            CURVE_PUBLICKEY=bad_public,
            CURVE_SECRETKEY=bad_secret,
        )
        no_key = RawPeer.dealer(rx.endpoint, connect=False)
        try:
            wrong_watch = HandshakeWatch(wrong_key, FAILED)
            # A plain client is dropped by the CURVE server (no handshake completes).
            no_key_watch = HandshakeWatch(no_key, FAILED | zmq.EVENT_DISCONNECTED)
            for raw in (wrong_key, no_key):
                raw.sock.connect(rx.endpoint)
                raw.send(b"")
                raw.send(b"\x01 would-be data")
            with anyio.fail_after(10):
                assert await wrong_watch.next_event() == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                assert await no_key_watch.next_event() != zmq.EVENT_HANDSHAKE_SUCCEEDED
            # A tickwork sender with the wrong key is never greeted either.
            async with open_zmq_send(
                rx.endpoint,
                maxsize=4,
                curve=CurveClient(server_public, bad_public, bad_secret),
                linger_ms=0,
            ) as bad_tx:
                with anyio.move_on_after(0.5):
                    await bad_tx.wait_peer()
                assert bad_tx.transport_statistics().handshakes == 0
                assert bad_tx.transport_statistics().credit == 0
            # The allowed client gets through, and is the first thing received.
            async with open_zmq_send(
                rx.endpoint,
                maxsize=4,
                serde=serde,
                curve=CurveClient(server_public, good_public, good_secret),
            ) as tx:
                await tx.send("hello over CURVE")
                with anyio.fail_after(10):
                    assert await rx.receive() == "hello over CURVE"
        finally:
            wrong_key.close()
            no_key.close()
        stats = rx.transport_statistics()
        assert stats.rejected_frames == 0
        assert stats.stale_frames == 0
        assert stats.handshakes == 1
