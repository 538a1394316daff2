"""What cannot work fails at once with a clear error: a refused CURVE key, another wire
version; and what must never wait does not (``maxsize=math.inf`` with no receiver)."""

from __future__ import annotations

import math
import pathlib

import anyio
import pytest

from tickwork.transports.zmq import (
    CurveClient,
    CurveServer,
    MsgpackSerde,
    TransportError,
    curve_keypair,
    open_zmq_receive,
    open_zmq_send,
)

from .wire import HELLO, RawPeer


async def test_a_sender_whose_curve_key_is_refused_fails_naming_the_address() -> None:
    server_public, server_secret = curve_keypair()
    allowed_public, _ = curve_keypair()
    refused_public, refused_secret = curve_keypair()
    server = CurveServer(server_public, server_secret, allowed_clients=[allowed_public])
    async with open_zmq_receive("tcp://127.0.0.1:0", maxsize=4, curve=server, linger_ms=0) as rx:
        client = CurveClient(server_public, refused_public, refused_secret)
        async with open_zmq_send(rx.endpoint, maxsize=4, curve=client, linger_ms=0) as tx:
            with anyio.fail_after(10), pytest.raises(TransportError) as info:
                await tx.send("never delivered")  # waits for credit, then learns why
            with pytest.raises(TransportError):
                tx.send_nowait("nor this")
    message = str(info.value)
    assert "authentication failed" in message
    assert "refused this end's key" in message
    assert rx.endpoint in message
    assert "allowed_clients" in message  # the fix
    assert rx.transport_statistics().received == 0


async def test_a_receiver_whose_curve_key_is_refused_fails_too() -> None:
    # Either end can be the CURVE server: here the sender binds and serves.
    server_public, server_secret = curve_keypair()
    refused_public, refused_secret = curve_keypair()
    server = CurveServer(server_public, server_secret, allowed_clients=[])
    async with open_zmq_send(
        "tcp://127.0.0.1:0", bind=True, maxsize=4, curve=server, linger_ms=0
    ) as tx:
        client = CurveClient(server_public, refused_public, refused_secret)
        async with open_zmq_receive(
            tx.endpoint, bind=False, maxsize=4, curve=client, linger_ms=0
        ) as rx:
            with anyio.fail_after(10), pytest.raises(TransportError, match="authentication failed"):
                await rx.receive()
        assert tx.peer_state == "connecting"


async def test_a_peer_speaking_another_wire_version_is_refused_naming_both() -> None:
    raw, endpoint = RawPeer.router("tcp://127.0.0.1:0")
    try:
        async with open_zmq_send(endpoint, maxsize=4, linger_ms=0) as tx:
            with anyio.fail_after(10):
                assert await raw.recv() == b""  # the sender's connection probe
                raw.send(HELLO.pack(0x11, b"tw", 3, 777, 0, 0, 4, 0))
                with pytest.raises(TransportError) as info:
                    await tx.send(1)
    finally:
        raw.close()
    message = str(info.value)
    assert endpoint in message
    assert "version 3" in message
    assert "speaks 2" in message


async def test_maxsize_inf_never_waits_even_with_no_receiver(ipc_dir: pathlib.Path) -> None:
    address = f"ipc://{ipc_dir}/later.sock"  # nothing is bound there yet
    count = 5_000
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with open_zmq_send(address, maxsize=math.inf, serde=serde) as tx:
        for i in range(count // 2):
            tx.send_nowait(i)  # never WouldBlock
        # send() never parks either: a parked send could only be woken by a receiver,
        # and there is none, so any wait would end this block with TimeoutError.
        with anyio.fail_after(10):
            for i in range(count // 2, count):
                await tx.send(i)
        assert tx.statistics().waiters_send == 0
        stats = tx.transport_statistics()
        assert stats.in_flight == count
        assert stats.peer_state == "connecting"
        async with open_zmq_receive(address, maxsize=math.inf, serde=serde) as rx:
            await tx.aclose()
            with anyio.fail_after(10):
                got = [item async for item in rx]
    assert got == list(range(count))


async def test_maxsize_inf_send_nowait_never_raises_wouldblock_once_connected() -> None:
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with (
        open_zmq_receive("tcp://127.0.0.1:0", maxsize=math.inf, serde=serde) as rx,
        open_zmq_send(rx.endpoint, maxsize=math.inf, serde=serde) as tx,
    ):
        await tx.wait_peer()
        for i in range(3_000):
            tx.send_nowait(i)  # a WouldBlock here fails the test
        await tx.aclose()
        with anyio.fail_after(10):
            got = [item async for item in rx]
    assert got == list(range(3_000))
