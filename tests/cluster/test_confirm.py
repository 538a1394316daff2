"""ConfirmedSend, the child's send stream, over an in-process ZeroMQ pair (memory://)."""

from __future__ import annotations

import anyio
import pytest

from tickwork import SendStream, WouldBlock
from tickwork.cluster._confirm import ConfirmedSend
from tickwork.transports.zmq import open_zmq_receive, open_zmq_send


async def test_send_returns_once_the_receiver_took_the_item() -> None:
    async with (
        open_zmq_receive("memory://confirm", maxsize=4) as rx,
        open_zmq_send("memory://confirm", maxsize=4) as raw,
    ):
        tx: SendStream[int] = ConfirmedSend(raw)
        sent = anyio.Event()
        later: list[int] = []

        async def send_one() -> None:
            await tx.send(1)
            sent.set()

        async def take_next() -> None:
            later.append(await rx.receive())

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send_one)
                assert await rx.receive() == 1
                assert not sent.is_set()  # held by the receiver, not yet taken for good
                tg.start_soon(take_next)  # coming back for more confirms 1
                await sent.wait()
                assert raw.transport_statistics().in_flight == 0
                tx.send_nowait(2)  # nothing unconfirmed: handed over
                with pytest.raises(WouldBlock):
                    tx.send_nowait(3)  # 2 is not confirmed yet
            assert later == [2]
            await tx.aclose()
