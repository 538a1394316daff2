"""tickwork.recipes.fanout.tee: 1:N broadcast."""

from __future__ import annotations

import math

import anyio
import pytest

from tickwork import Channel, ChannelClosed, EndOfStream, SimClock, open_channel
from tickwork.recipes.fanout import tee

from ._helpers import FailingReceive, drain


@pytest.mark.parametrize("maxsize", [0, 1, 64])
async def test_every_item_reaches_every_dest_in_order_and_dests_close_at_eof(
    maxsize: int,
) -> None:
    src: Channel[int] = open_channel(maxsize)
    outs: list[Channel[int]] = [open_channel(maxsize) for _ in range(3)]
    got: list[list[int]] = [[], [], []]
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: tee(src.recv, *(c.send for c in outs)))
        for out, into in zip(outs, got, strict=True):
            tg.start_soon(drain, out.recv, into)
        async with src.send:
            for i in range(200):
                await src.send.send(i)
    # The drains only return because tee closed every destination at EOF.
    assert got == [list(range(200))] * 3


async def test_a_full_dest_backpressures_the_tee_but_others_get_the_item_first(
    sim_clock: SimClock,
) -> None:
    src: Channel[int] = open_channel(0)
    slow: Channel[int] = open_channel(0)  # nobody reads it yet
    fast: Channel[int] = open_channel(0)
    fast_got: list[int] = []
    slow_got: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: tee(src.recv, slow.send, fast.send))
        tg.start_soon(drain, fast.recv, fast_got)
        await sim_clock.run_until_idle()  # the tee and the fast reader are waiting
        tg.start_soon(src.send.send, 1)
        await sim_clock.run_until_idle()
        # Item 1 went to the ready dest; the tee waits on the slow one and reads no more.
        assert fast_got == [1]
        assert slow.send.statistics().waiters_send == 1
        tg.start_soon(src.send.send, 2)
        await sim_clock.run_until_idle()
        assert fast_got == [1]
        assert src.send.statistics().waiters_send == 1
        tg.start_soon(drain, slow.recv, slow_got)
        await sim_clock.run_until_idle()
        assert fast_got == [1, 2]
        assert slow_got == [1, 2]
        await src.send.aclose()
    assert slow_got == [1, 2]


async def test_cancelling_the_tee_closes_every_dest(sim_clock: SimClock) -> None:
    src: Channel[int] = open_channel(0)
    outs: list[Channel[int]] = [open_channel(4) for _ in range(2)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: tee(src.recv, *(c.send for c in outs)))
        await src.send.send(7)
        await sim_clock.run_until_idle()
        tg.cancel_scope.cancel()
    for out in outs:
        assert out.recv.receive_nowait() == 7
        with pytest.raises(EndOfStream):
            out.recv.receive_nowait()


async def test_a_closed_dest_fails_the_tee_and_closes_the_others() -> None:
    src: Channel[int] = open_channel(1)
    gone: Channel[int] = open_channel(1)
    alive: Channel[int] = open_channel(1)
    await gone.recv.aclose()
    await src.send.send(1)
    with pytest.raises(ChannelClosed):
        await tee(src.recv, alive.send, gone.send)
    assert alive.recv.receive_nowait() == 1
    with pytest.raises(EndOfStream):
        alive.recv.receive_nowait()


async def test_a_source_error_propagates_after_closing_the_dests() -> None:
    out: Channel[int] = open_channel(8)
    src = FailingReceive[int](RuntimeError("source broke"), items=(1, 2))
    with pytest.raises(RuntimeError, match="source broke"):
        await tee(src, out.send)
    assert [out.recv.receive_nowait(), out.recv.receive_nowait()] == [1, 2]
    with pytest.raises(EndOfStream):
        out.recv.receive_nowait()


async def test_no_task_group_per_item(monkeypatch: pytest.MonkeyPatch) -> None:
    src: Channel[int] = open_channel(16)
    outs: list[Channel[int]] = [open_channel(16) for _ in range(4)]
    for i in range(10):
        src.send.send_nowait(i)
    await src.send.aclose()

    def forbidden() -> None:
        raise AssertionError("tee created a task group")

    monkeypatch.setattr(anyio, "create_task_group", forbidden)
    await tee(src.recv, *(c.send for c in outs))
    for out in outs:
        assert [out.recv.receive_nowait() for _ in range(10)] == list(range(10))


async def test_no_dests_is_a_value_error_naming_the_argument() -> None:
    src: Channel[int] = open_channel(0)
    with pytest.raises(ValueError, match="dests"):
        await tee(src.recv)


async def test_the_tee_lets_other_tasks_run_while_every_channel_is_ready() -> None:
    src: Channel[int] = open_channel(math.inf)
    out: Channel[int] = open_channel(math.inf)
    for i in range(1000):
        src.send.send_nowait(i)
    await src.send.aclose()
    seen_by_other: list[int] = []

    async def other() -> None:
        await anyio.lowlevel.checkpoint()
        seen_by_other.append(out.send.statistics().current_buffer_used)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tee, src.recv, out.send)
        tg.start_soon(other)
    # Without its periodic yield the tee would forward all 1,000 items first.
    assert seen_by_other[0] < 1000
    assert out.send.statistics().current_buffer_used == 1000
