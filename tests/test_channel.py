"""In-process channel specifics beyond the shared contract kit."""

from __future__ import annotations

import asyncio
import contextlib
import math

import anyio
import anyio.lowlevel
import pytest

from tickwork import (
    Channel,
    ChannelClosed,
    ChannelInUse,
    EndOfStream,
    MemoryReceiveStream,
    MemorySendStream,
    TickworkError,
    WouldBlock,
    open_channel,
)
from tickwork._internals import FAIRNESS_INTERVAL
from tickwork.testing import wait_all_blocked


async def settle() -> None:
    await wait_all_blocked()


@pytest.mark.parametrize(
    ("maxsize", "error", "message"),
    [
        (-1, ValueError, "maxsize must be >= 0"),
        (math.nan, ValueError, "maxsize must be >= 0"),
        (2.5, ValueError, "whole number or math.inf"),
        ("8", TypeError, "maxsize must be an int or math.inf, not str"),
        (True, TypeError, "not bool"),
    ],
)
def test_open_channel_rejects_bad_maxsize(maxsize: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        open_channel(maxsize)  # type: ignore[arg-type]


def test_endpoints_have_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"create it with tickwork\.open_channel\(\)"):
        MemorySendStream()
    with pytest.raises(TypeError, match="no public constructor"):
        MemoryReceiveStream()


def test_exceptions_are_tickwork_and_anyio_errors() -> None:
    assert issubclass(EndOfStream, anyio.EndOfStream)
    assert issubclass(ChannelClosed, anyio.ClosedResourceError)
    assert issubclass(ChannelClosed, anyio.BrokenResourceError)
    assert issubclass(ChannelInUse, anyio.BusyResourceError)
    assert issubclass(WouldBlock, anyio.WouldBlock)
    for exc in (EndOfStream, ChannelClosed, ChannelInUse, WouldBlock):
        assert issubclass(exc, TickworkError)
    assert "single-producer/single-consumer" in str(ChannelInUse("receiving"))


async def test_rendezvous_send_waits_for_a_receiver() -> None:
    ch: Channel[str] = open_channel(0)
    done: list[str] = []

    async def sender() -> None:
        await ch.send.send("x")
        done.append("sent")

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await settle()
        assert done == []
        assert ch.send.statistics().waiters_send == 1
        assert await ch.recv.receive() == "x"
    assert done == ["sent"]


async def test_unbounded_channel_never_blocks_the_sender() -> None:
    ch: Channel[int] = open_channel(math.inf)
    for i in range(10_000):
        ch.send.send_nowait(i)
    assert ch.recv.statistics().current_buffer_used == 10_000
    assert ch.recv.statistics().max_buffer_size == math.inf
    await ch.send.aclose()
    assert [x async for x in ch.recv] == list(range(10_000))


async def test_fast_path_yields_at_bounded_interval() -> None:
    """ADR 0003 canary: a producer into a never-full channel still lets others run."""
    ch: Channel[int] = open_channel(math.inf)
    rounds = 20
    other_ran = 0
    done = False

    async def producer() -> None:
        nonlocal done
        for i in range(rounds * FAIRNESS_INTERVAL):
            await ch.send.send(i)
        done = True

    async def other() -> None:
        nonlocal other_ran
        while not done:
            other_ran += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        tg.start_soon(other)
    assert other_ran >= rounds - 1


async def test_fast_path_delivers_cancellation_within_the_interval() -> None:
    ch: Channel[int] = open_channel(math.inf)
    sent = 0
    with anyio.CancelScope() as scope:
        scope.cancel()
        for i in range(10 * FAIRNESS_INTERVAL):
            await ch.send.send(i)
            sent += 1
    assert scope.cancelled_caught
    assert sent < FAIRNESS_INTERVAL
    assert ch.recv.statistics().current_buffer_used == sent


async def test_close_send_side_wakes_a_parked_receiver_with_eof() -> None:
    ch: Channel[int] = open_channel(4)
    outcome: list[str] = []

    async def receiver() -> None:
        try:
            await ch.recv.receive()
        except EndOfStream:
            outcome.append("eof")

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await settle()
        await ch.send.aclose()
    assert outcome == ["eof"]
    with pytest.raises(EndOfStream):
        ch.recv.receive_nowait()


async def test_closing_the_send_side_fails_its_own_parked_send() -> None:
    ch: Channel[int] = open_channel(0)
    outcome: list[str] = []

    async def sender() -> None:
        try:
            await ch.send.send(1)
        except ChannelClosed as exc:
            outcome.append(str(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await settle()
        await ch.send.aclose()
    assert outcome == ["the send side was closed while this send was waiting"]
    with pytest.raises(EndOfStream):
        await ch.recv.receive()


async def test_receiver_close_drops_buffer_and_fails_later_sends() -> None:
    ch: Channel[int] = open_channel(8)
    for i in range(3):
        await ch.send.send(i)
    async with ch.recv:
        pass
    assert ch.recv.statistics().current_buffer_used == 0
    with pytest.raises(ChannelClosed, match="receive side is closed"):
        await ch.send.send(3)
    with pytest.raises(ChannelClosed, match="receive side was closed"):
        ch.recv.receive_nowait()
    with pytest.raises(ChannelClosed, match="receive side was closed"):
        await ch.recv.receive()


async def test_closing_the_receive_side_fails_its_own_parked_receive() -> None:
    ch: Channel[int] = open_channel(0)
    outcome: list[str] = []

    async def receiver() -> None:
        try:
            await ch.recv.receive()
        except ChannelClosed as exc:
            outcome.append(str(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await settle()
        await ch.recv.aclose()
    assert outcome == ["the receive side was closed while this receive waited"]


async def test_async_context_managers_close_both_sides() -> None:
    ch: Channel[int] = open_channel(1)
    async with ch.send as tx:
        await tx.send(1)
    async with ch.recv as rx:
        assert await rx.receive() == 1
        with pytest.raises(EndOfStream):
            await rx.receive()
    stats = ch.recv.statistics()
    assert (stats.open_send_streams, stats.open_receive_streams) == (0, 0)


async def test_second_blocked_sender_gets_channel_in_use_and_first_still_delivers() -> None:
    ch: Channel[str] = open_channel(0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send.send, "first")
        await settle()
        with pytest.raises(ChannelInUse, match="already sending"):
            await ch.send.send("second")
        assert await ch.recv.receive() == "first"


async def _race_wake_against_cancel(backend: str) -> list[int]:
    """Hand an item to a parked receiver and cancel it before it resumes."""
    ch: Channel[int] = open_channel(0)
    got: list[int] = []
    receiver_scope = anyio.CancelScope()
    native: list[asyncio.Task[object]] = []

    async def receiver() -> None:
        if backend == "asyncio":
            task = asyncio.current_task()
            assert task is not None
            native.append(task)
        with receiver_scope:
            got.append(await ch.recv.receive())

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await settle()
        ch.send.send_nowait(42)  # hands the item over; the receiver has not resumed
        if native:
            native[0].cancel()  # native asyncio cancellation: the racy case
        receiver_scope.cancel()
    with contextlib.suppress(WouldBlock):
        got.append(ch.recv.receive_nowait())
    return got


async def test_wake_and_cancel_in_the_same_pass_loses_nothing(anyio_backend_name: str) -> None:
    """A receiver handed an item and cancelled before it resumes still returns the item."""
    for _ in range(20):
        assert await _race_wake_against_cancel(anyio_backend_name) == [42]


async def test_wait_ready_on_a_rendezvous_leaves_the_sender_parked() -> None:
    ch: Channel[str] = open_channel(0)
    ready = anyio.Event()

    async def watch() -> None:
        await ch.recv.wait_ready()
        ready.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        await settle()
        with pytest.raises(ChannelInUse):
            await ch.recv.receive()  # wait_ready is the endpoint's one blocked task
        tg.start_soon(ch.send.send, "x")
        await ready.wait()
        await settle()
        assert ch.send.statistics().waiters_send == 1  # still parked: nothing taken
        assert ch.recv.receive_nowait() == "x"


async def test_wait_ready_fails_when_its_own_side_closes() -> None:
    ch: Channel[str] = open_channel(2)
    outcome: list[str] = []

    async def watch() -> None:
        try:
            await ch.recv.wait_ready()
        except ChannelClosed as exc:
            outcome.append(str(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        await settle()
        await ch.recv.aclose()
    assert outcome == ["the receive side was closed while wait_ready waited"]
    with pytest.raises(ChannelClosed, match="wait_ready on a channel"):
        await ch.recv.wait_ready()
