"""One sender per receiver (ADR 0030): a second one is refused, a restarted one takes over."""

from __future__ import annotations

import pathlib
import struct
import subprocess
import sys

import anyio
import pytest

from tickwork import SimClock
from tickwork.transports.zmq import (
    MsgpackSerde,
    TransportError,
    open_zmq_receive,
    open_zmq_send,
)

from .wire import HELLO, RawPeer, data, greet_as_sender

CHILD = pathlib.Path(__file__).with_name("zmq_sender_child.py")
NONCE = struct.Struct("<BQQ")  # CHECK and HERE
REFUSED = struct.Struct("<BQB")
Tagged = tuple[str, int]


def address_for(transport: str, ipc_dir: pathlib.Path) -> str:
    return "tcp://127.0.0.1:0" if transport == "tcp" else f"ipc://{ipc_dir}/one.sock"


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_a_second_sender_is_refused_at_once_and_the_first_loses_nothing(
    transport: str, ipc_dir: pathlib.Path
) -> None:
    total = 2_000
    serde: MsgpackSerde[Tagged] = MsgpackSerde(Tagged)
    got: list[Tagged] = []
    halfway = anyio.Event()
    async with (
        open_zmq_receive(address_for(transport, ipc_dir), maxsize=64, serde=serde) as rx,
        open_zmq_send(rx.endpoint, maxsize=64, serde=serde) as first,
    ):

        async def produce() -> None:
            for i in range(total):
                await first.send(("first", i))
            await first.aclose()

        async def consume() -> None:
            async for item in rx:
                got.append(item)
                if len(got) == total // 2:
                    halfway.set()

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                tg.start_soon(consume)
                await halfway.wait()
                async with open_zmq_send(
                    rx.endpoint, maxsize=64, serde=serde, linger_ms=0
                ) as second:
                    with pytest.raises(TransportError) as info:
                        await second.send(("second", 0))  # the very first send fails
                    assert rx.endpoint in str(info.value)
                    assert "already has a sender" in str(info.value)
                    assert second.transport_statistics().sent == 0
                    with pytest.raises(TransportError):
                        second.send_nowait(("second", 1))
    assert got == [("first", i) for i in range(total)], "the first sender lost or doubled items"
    assert rx.transport_statistics().handshakes == 1


async def test_a_live_sender_that_answers_the_check_keeps_the_channel() -> None:
    # The current sender is a raw peer, so the test sees the CHECK and answers it by hand.
    clock = SimClock()
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with open_zmq_receive(
        "tcp://127.0.0.1:0", maxsize=8, serde=serde, clock=clock, linger_ms=0
    ) as rx:
        old = RawPeer.dealer(rx.endpoint)
        try:
            with anyio.fail_after(10):
                epoch = await greet_as_sender(old)
                old.send(data(epoch, 1, serde.encode(1)))
                assert await rx.receive() == 1
                async with open_zmq_send(rx.endpoint, maxsize=8, linger_ms=0) as newcomer:
                    frame = await old.recv()
                    while frame[0] != 0x15:  # skip ACKs up to the CHECK
                        frame = await old.recv()
                    _, check_epoch, nonce = NONCE.unpack(frame)
                    assert check_epoch == epoch
                    old.send(NONCE.pack(0x06, epoch, nonce))  # HERE
                    with pytest.raises(TransportError, match="already has a sender"):
                        await newcomer.send(2)
                old.send(data(epoch, 2, serde.encode(2)))
                assert await rx.receive() == 2
        finally:
            old.close()


async def test_a_sender_silent_for_peer_timeout_after_the_check_is_taken_over() -> None:
    clock = SimClock()
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with open_zmq_receive(
        "tcp://127.0.0.1:0",
        maxsize=8,
        serde=serde,
        clock=clock,
        heartbeat_interval=1.0,
        peer_timeout=3.0,
        linger_ms=0,
    ) as rx:
        old = RawPeer.dealer(rx.endpoint)
        try:
            with anyio.fail_after(10):
                epoch = await greet_as_sender(old)
                old.send(data(epoch, 1, serde.encode(1)))
                assert await rx.receive() == 1
                async with open_zmq_send(
                    rx.endpoint, maxsize=8, serde=serde, linger_ms=0
                ) as newcomer:
                    frame = await old.recv()
                    while frame[0] != 0x15:
                        frame = await old.recv()  # the CHECK; the old sender stays mute
                    await clock.advance(2.0)
                    assert rx.transport_statistics().handshakes == 1  # not yet
                    await clock.advance(2.0)  # past peer_timeout after the check
                    frame = await old.recv()
                    while frame[0] != 0x14:
                        frame = await old.recv()
                    assert REFUSED.unpack(frame) == (0x14, epoch, 2)  # "taken over"
                    for i in range(10, 18):  # a window's worth: nobody receives yet
                        await newcomer.send(i)
                    assert [await rx.receive() for _ in range(8)] == list(range(10, 18))
                    assert rx.transport_statistics().handshakes == 2
        finally:
            old.close()


async def test_a_restarted_sender_process_takes_over_at_once() -> None:
    # The first sending process is SIGKILLed mid-stream; a new sender (a new session, here
    # in this process) connects and carries on. The old connection is gone, so the CHECK
    # cannot be routed: the newcomer takes over with no wait.
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    got: list[int] = []
    async with open_zmq_receive("tcp://127.0.0.1:0", maxsize=8, serde=serde) as rx:
        command = [sys.executable, str(CHILD), rx.endpoint, "0", "50", "0"]
        with anyio.fail_after(30):
            async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as first:
                while len(got) < 50:
                    got.append(await rx.receive())
                first.kill()  # SIGKILL: no end of stream from this session
                await first.wait()
            async with open_zmq_send(rx.endpoint, maxsize=8, serde=serde) as second:

                async def produce() -> None:
                    for i in range(50, 100):
                        await second.send(i)
                    await second.aclose()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(produce)
                    got.extend([item async for item in rx])
        stats = rx.transport_statistics()
    assert got == list(range(100))
    assert stats.handshakes == 2
    assert stats.duplicates == 0


async def test_a_newcomer_is_greeted_without_credit() -> None:
    # While a sender is connected, a second connection's HELLO grants a window of 0.
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with (
        open_zmq_receive("tcp://127.0.0.1:0", maxsize=8, serde=serde, linger_ms=0) as rx,
        open_zmq_send(rx.endpoint, maxsize=8, serde=serde, linger_ms=0) as tx,
    ):
        await tx.send(1)
        with anyio.fail_after(10):
            assert await rx.receive() == 1
            newcomer = RawPeer.dealer(rx.endpoint)
            try:
                newcomer.send(b"")
                hello = await newcomer.recv()
            finally:
                newcomer.close()
        assert hello[0] == 0x11
        assert HELLO.unpack(hello)[6] == 0  # window
