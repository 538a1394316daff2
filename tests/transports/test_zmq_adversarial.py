"""Adversarial probes: cancellation at random points, close while sending, a second binder."""

from __future__ import annotations

import pathlib
import random

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from tickwork import ChannelClosed, EndOfStream
from tickwork.transports.zmq import (
    MsgpackSerde,
    TransportError,
    open_zmq_channel,
    open_zmq_receive,
    open_zmq_send,
)

SEED = 20261201


async def cancel_after(scope: anyio.CancelScope, checkpoints: int) -> None:
    """Cancel ``scope`` at the ``checkpoints``-th scheduling point from now: a random spot
    inside a send or receive that may be parked, half-way or already done."""
    for _ in range(checkpoints):
        await anyio.lowlevel.checkpoint()
    scope.cancel()


@pytest.mark.parametrize("maxsize", [0, 4])
async def test_cancelled_sends_and_receives_lose_and_double_nothing(maxsize: int) -> None:
    total = 200
    rng = random.Random(SEED + maxsize)
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    got: list[int] = []
    cancelled = {"send": 0, "receive": 0}
    async with open_zmq_channel("tcp://127.0.0.1:0", maxsize=maxsize, serde=serde) as ch:

        async def produce(tg: anyio.abc.TaskGroup) -> None:
            for i in range(total):
                while True:
                    with anyio.CancelScope() as scope:
                        tg.start_soon(cancel_after, scope, rng.randrange(6))
                        await ch.send.send(i)
                    if not scope.cancelled_caught:
                        break
                    cancelled["send"] += 1  # not sent: send it again
            await ch.send.aclose()

        async def consume(tg: anyio.abc.TaskGroup) -> None:
            while True:
                with anyio.CancelScope() as scope:
                    tg.start_soon(cancel_after, scope, rng.randrange(6))
                    try:
                        got.append(await ch.recv.receive())
                    except EndOfStream:
                        return
                if scope.cancelled_caught:
                    cancelled["receive"] += 1

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce, tg)
                tg.start_soon(consume, tg)
    assert got == list(range(total)), "a cancelled send or receive lost or doubled an item"
    assert cancelled["send"] > 0
    assert cancelled["receive"] > 0


async def test_close_while_a_send_waits_for_credit_raises_channel_closed() -> None:
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with (
        open_zmq_receive("tcp://127.0.0.1:0", maxsize=0, serde=serde, linger_ms=0) as rx,
        open_zmq_send(rx.endpoint, maxsize=0, serde=serde, linger_ms=0) as tx,
    ):
        await tx.wait_peer()
        raised: list[BaseException] = []

        async def parked_send() -> None:
            try:
                await tx.send(1)  # a rendezvous with nobody receiving: it parks
            except ChannelClosed as exc:
                raised.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(parked_send)
                await anyio.wait_all_tasks_blocked()
                assert tx.statistics().waiters_send == 1
                tx.close()
            assert len(raised) == 1
            with pytest.raises(EndOfStream):
                await rx.receive()  # the parked item never left
    assert rx.transport_statistics().received == 0


async def test_a_second_receiver_cannot_bind_a_live_ipc_path(ipc_dir: pathlib.Path) -> None:
    # libzmq alone would unlink the path and bind again, silently stealing new senders.
    address = f"ipc://{ipc_dir}/taken.sock"
    async with open_zmq_receive(address, linger_ms=0):
        with pytest.raises(TransportError, match="Address already in use"):
            async with open_zmq_receive(address, linger_ms=0):
                pass


async def test_an_ipc_path_left_by_a_dead_binder_can_be_bound_again(
    ipc_dir: pathlib.Path,
) -> None:
    import socket

    path = ipc_dir / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a socket file with nobody listening, as a SIGKILL leaves it
    dead.close()
    assert path.exists()
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with open_zmq_channel(f"ipc://{path}", maxsize=2, serde=serde) as ch:
        await ch.send.send(5)
        with anyio.fail_after(10):
            assert await ch.recv.receive() == 5
