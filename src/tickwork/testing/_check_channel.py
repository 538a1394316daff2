"""The channel contract as reusable async checks, run against every transport.

``await check_channel(make_pair)`` exercises ordering, end of stream, close in both
directions, ``ChannelInUse``, the ``*_nowait`` calls, cancellation atomicity and the
basic statistics. ``make_pair(maxsize)`` is an async context manager yielding a
connected ``(send, receive)`` pair. Transports whose close reaches the peer over a
wire pass ``remote=True``: the checks then wait for the close to arrive instead of
expecting it at once, and skip buffer-occupancy statistics the sender cannot know.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import anyio
import anyio.lowlevel

from tickwork._channel import ReceiveStream, SendStream
from tickwork._exceptions import ChannelClosed, ChannelInUse, EndOfStream, WouldBlock

from ._wait import wait_all_blocked

__all__ = ["ChannelPair", "MakePair", "check_channel"]

ChannelPair = tuple[SendStream[Any], ReceiveStream[Any]]
MakePair = Callable[[float], AbstractAsyncContextManager[ChannelPair]]

ITEMS: Final = 200
"""Items per ordering / fuzz run: enough to wrap a small buffer many times."""

REMOTE_CLOSE_TIMEOUT: Final = 10.0
"""Wall-clock seconds a remote close may take to reach the peer before the check fails."""


async def _settle() -> None:
    """Let every other task run until all are blocked (exact quiescence, both backends)."""
    await wait_all_blocked()


async def check_channel(make_pair: MakePair, *, remote: bool = False, seed: int = 0) -> None:
    """Run every channel contract check against ``make_pair``; raise AssertionError on a breach."""
    for maxsize in (0, 1, 8):
        await _check_order(make_pair, maxsize)
        await _check_eof(make_pair, maxsize)
        await _check_receiver_close(make_pair, maxsize, remote=remote)
        await _check_in_use(make_pair, maxsize)
        await _check_cancel_blocked(make_pair, maxsize)
        await _check_cancel_fuzz(make_pair, maxsize, random.Random(f"{seed}:{maxsize}"))
        await _check_wait_ready(make_pair, maxsize)
    await _check_nowait(make_pair, remote=remote)
    await _check_statistics(make_pair, remote=remote)


async def _check_order(make_pair: MakePair, maxsize: int) -> None:
    async with make_pair(maxsize) as (tx, rx):

        async def produce() -> None:
            async with tx:
                for i in range(ITEMS):
                    await tx.send(i)

        got: list[object] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            got.extend([item async for item in rx])
        assert got == list(range(ITEMS)), (
            f"maxsize={maxsize}: items out of order or lost: {got[:20]}"
        )


async def _check_eof(make_pair: MakePair, maxsize: int) -> None:
    async with make_pair(maxsize) as (tx, rx):
        buffered = min(maxsize, 3)
        for i in range(buffered):
            await tx.send(i)
        await tx.aclose()
        got = [await rx.receive() for _ in range(buffered)]
        assert got == list(range(buffered)), (
            f"maxsize={maxsize}: buffer not drained after close: {got}"
        )
        for _ in range(2):
            try:
                item = await rx.receive()
            except EndOfStream:
                pass
            else:
                raise AssertionError(f"receive() after close and drain returned {item!r}")
        async for item in rx:
            raise AssertionError(f"iteration after EOF yielded {item!r}")
        try:
            await tx.send(99)
        except ChannelClosed:
            pass
        else:
            raise AssertionError("send() on a closed send side did not raise ChannelClosed")


async def _check_receiver_close(make_pair: MakePair, maxsize: int, *, remote: bool) -> None:
    async with make_pair(maxsize) as (tx, rx):
        blocked_error: list[BaseException] = []

        async def blocked_send() -> None:
            try:
                # Fill the buffer so this send must wait for the receiver.
                for i in range(maxsize + 1):
                    await tx.send(i)
            except ChannelClosed as exc:
                blocked_error.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(blocked_send)
            await _settle()
            await rx.aclose()
        assert blocked_error, (
            f"maxsize={maxsize}: a send parked when the receiver closed did not fail"
        )
        with anyio.fail_after(REMOTE_CLOSE_TIMEOUT):
            while True:
                try:
                    await tx.send("after close")
                except ChannelClosed:
                    break
                if not remote:
                    raise AssertionError(
                        "send() after the receiver closed did not raise ChannelClosed"
                    )
        try:
            tx.send_nowait("after close")
        except ChannelClosed:
            pass
        else:
            raise AssertionError(
                "send_nowait() after the receiver closed did not raise ChannelClosed"
            )


async def _check_in_use(make_pair: MakePair, maxsize: int) -> None:
    async with make_pair(maxsize) as (tx, rx):
        got: list[object] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(rx.receive)
            await _settle()
            try:
                await rx.receive()
            except ChannelInUse:
                pass
            else:
                raise AssertionError("a second concurrent receive() did not raise ChannelInUse")
            await tx.send("unblock")
        for i in range(maxsize):
            await tx.send(i)
        async with anyio.create_task_group() as tg:
            tg.start_soon(tx.send, "parked")
            await _settle()
            try:
                await tx.send("second")
            except ChannelInUse:
                pass
            else:
                raise AssertionError("a second concurrent send() did not raise ChannelInUse")
            got.extend([await rx.receive() for _ in range(maxsize + 1)])
        assert got == [*range(maxsize), "parked"], f"items around ChannelInUse: {got}"


async def _check_cancel_blocked(make_pair: MakePair, maxsize: int) -> None:
    async with make_pair(maxsize) as (tx, rx):
        # A cancelled receive consumed nothing.
        async with anyio.create_task_group() as tg:
            tg.start_soon(rx.receive)
            await _settle()
            tg.cancel_scope.cancel()
        async with anyio.create_task_group() as tg:
            tg.start_soon(tx.send, "kept")
            assert await rx.receive() == "kept", "a cancelled receive() consumed an item"
        # A cancelled send delivered nothing.
        for i in range(maxsize):
            await tx.send(i)
        async with anyio.create_task_group() as tg:
            tg.start_soon(tx.send, "cancelled")
            await _settle()
            tg.cancel_scope.cancel()
        got = [await rx.receive() for _ in range(maxsize)]
        assert got == list(range(maxsize)), f"buffer changed by a cancelled send: {got}"
        await tx.aclose()
        try:
            item = await rx.receive()
        except EndOfStream:
            pass
        else:
            raise AssertionError(f"a cancelled send() delivered {item!r}")


async def _check_cancel_fuzz(make_pair: MakePair, maxsize: int, rng: random.Random) -> None:
    """Cancel sends and receives at random points; what was received is what was sent."""
    sent: list[int] = []
    received: list[int] = []
    scopes: dict[str, anyio.CancelScope | None] = {"send": None, "receive": None}

    async def maybe_cancel_peer(peer: str) -> None:
        scope = scopes[peer]
        if scope is not None and rng.random() < 0.3:
            scope.cancel()
        if rng.random() < 0.3:
            await anyio.lowlevel.checkpoint()

    async with make_pair(maxsize) as (tx, rx):

        async def produce() -> None:
            for i in range(ITEMS):
                with anyio.CancelScope() as scope:
                    scopes["send"] = scope
                    if rng.random() < 0.1:
                        scope.cancel()
                    await tx.send(i)
                    sent.append(i)
                scopes["send"] = None
                await maybe_cancel_peer("receive")
            await tx.aclose()

        async def consume() -> None:
            while True:
                with anyio.CancelScope() as scope:
                    scopes["receive"] = scope
                    if rng.random() < 0.1:
                        scope.cancel()
                    try:
                        received.append(await rx.receive())
                    except EndOfStream:
                        return
                scopes["receive"] = None
                await maybe_cancel_peer("send")

        with anyio.fail_after(REMOTE_CLOSE_TIMEOUT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                tg.start_soon(consume)
    assert received == sent, (
        f"maxsize={maxsize}: cancellation lost or duplicated items: "
        f"sent {len(sent)}, received {len(received)}; "
        f"missing {sorted(set(sent) - set(received))[:10]}, "
        f"extra {sorted(set(received) - set(sent))[:10]}"
    )


async def _check_wait_ready(make_pair: MakePair, maxsize: int) -> None:
    """``wait_ready`` returns when an item (or the end) is there, and takes nothing."""
    async with make_pair(maxsize) as (tx, rx):
        ready = anyio.Event()

        async def watch() -> None:
            await rx.wait_ready()
            ready.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await _settle()
            assert not ready.is_set(), "wait_ready() returned with nothing to receive"
            tg.cancel_scope.cancel()
        got: list[object] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            tg.start_soon(tx.send, "first")
            with anyio.fail_after(REMOTE_CLOSE_TIMEOUT):
                await ready.wait()
            got.append(await rx.receive())
        assert got == ["first"], f"wait_ready() lost or took the item: receive() gave {got!r}"
        await tx.aclose()
        with anyio.fail_after(REMOTE_CLOSE_TIMEOUT):
            await rx.wait_ready()  # the end of the stream counts as ready
        try:
            item = await rx.receive()
        except EndOfStream:
            pass
        else:
            raise AssertionError(f"receive() after close returned {item!r}")


async def _check_nowait(make_pair: MakePair, *, remote: bool) -> None:
    async with make_pair(1) as (tx, rx):
        try:
            rx.receive_nowait()
        except WouldBlock:
            pass
        else:
            raise AssertionError("receive_nowait() on an empty channel did not raise WouldBlock")
        tx.send_nowait("a")
        if not remote:
            try:
                tx.send_nowait("b")
            except WouldBlock:
                pass
            else:
                raise AssertionError("send_nowait() on a full buffer did not raise WouldBlock")
        assert await rx.receive() == "a"
        await tx.aclose()
        with anyio.fail_after(REMOTE_CLOSE_TIMEOUT):
            while True:
                try:
                    item = rx.receive_nowait()
                except EndOfStream:
                    break
                except WouldBlock:
                    if not remote:
                        raise AssertionError(
                            "receive_nowait() after close+drain: WouldBlock"
                        ) from None
                    await anyio.lowlevel.checkpoint()
                    continue
                raise AssertionError(f"receive_nowait() after close+drain returned {item!r}")
    async with make_pair(0) as (tx, rx):
        try:
            tx.send_nowait("nobody waits")
        except WouldBlock:
            pass
        else:
            raise AssertionError("send_nowait() on a rendezvous with no receiver did not block")
        await rx.aclose()


async def _check_statistics(make_pair: MakePair, *, remote: bool) -> None:
    async with make_pair(4) as (tx, rx):
        assert tx.statistics().open_send_streams == 1
        assert rx.statistics().open_receive_streams == 1
        assert rx.statistics().max_buffer_size == 4
        if not remote:
            await tx.send(1)
            await tx.send(2)
            assert tx.statistics().current_buffer_used == 2, tx.statistics()
            assert [await rx.receive(), await rx.receive()] == [1, 2]
            async with anyio.create_task_group() as tg:
                tg.start_soon(rx.receive)
                await _settle()
                assert rx.statistics().waiters_receive == 1, rx.statistics()
                assert rx.statistics().current_buffer_used == 0
                tg.cancel_scope.cancel()
            assert rx.statistics().waiters_receive == 0, "a cancelled receive stayed counted"
        await tx.aclose()
        assert tx.statistics().open_send_streams == 0
        await rx.aclose()
        assert rx.statistics().open_receive_streams == 0
