"""tickwork.recipes.merge.merge: N:1 fan-in."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork import Channel, ChannelClosed, EndOfStream, SimClock, open_channel
from tickwork.recipes.merge import merge

from ._helpers import FailingReceive, drain


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=1, max_size=5),
    src_size=st.sampled_from([0, 1, 8]),
    dest_size=st.sampled_from([0, 1, 8]),
)
async def test_all_items_arrive_fifo_per_source_and_dest_closes_after_all_drain(
    counts: list[int], src_size: int, dest_size: int
) -> None:
    sources: list[Channel[tuple[int, int]]] = [open_channel(src_size) for _ in counts]
    dest: Channel[tuple[int, int]] = open_channel(dest_size)
    got: list[tuple[int, int]] = []

    async def produce(k: int, n: int) -> None:
        async with sources[k].send:
            for i in range(n):
                await sources[k].send.send((k, i))

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: merge([s.recv for s in sources], dest.send))
        tg.start_soon(drain, dest.recv, got)
        for k, n in enumerate(counts):
            tg.start_soon(produce, k, n)
    assert sorted(got) == sorted((k, i) for k, n in enumerate(counts) for i in range(n))
    for k in range(len(counts)):
        assert [i for kk, i in got if kk == k] == list(range(counts[k]))


async def test_dest_stays_open_until_the_last_source_ends(sim_clock: SimClock) -> None:
    a: Channel[str] = open_channel(1)
    b: Channel[str] = open_channel(1)
    dest: Channel[str] = open_channel(4)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: merge([a.recv, b.recv], dest.send))
        await a.send.send("a")
        await a.send.aclose()
        await sim_clock.run_until_idle()
        assert dest.recv.receive_nowait() == "a"
        assert dest.send.statistics().open_send_streams == 1
        await b.send.send("b")
        await b.send.aclose()
    assert dest.recv.receive_nowait() == "b"
    with pytest.raises(EndOfStream):
        dest.recv.receive_nowait()


async def test_close_dest_false_leaves_dest_open() -> None:
    a: Channel[int] = open_channel(1)
    dest: Channel[int] = open_channel(1)
    await a.send.aclose()
    await merge([a.recv], dest.send, close_dest=False)
    assert dest.send.statistics().open_send_streams == 1
    dest.send.send_nowait(5)
    assert dest.recv.receive_nowait() == 5


async def test_a_source_error_aborts_forwarding_closes_dest_and_raises_plainly(
    sim_clock: SimClock,
) -> None:
    ok: Channel[int] = open_channel(0)
    dest: Channel[int] = open_channel(8)
    bad = FailingReceive[int](RuntimeError("source broke"), items=(1,))
    with pytest.raises(RuntimeError, match="source broke"):
        await merge([ok.recv, bad], dest.send)
    assert dest.recv.receive_nowait() == 1
    with pytest.raises(EndOfStream):
        dest.recv.receive_nowait()
    await sim_clock.run_until_idle()
    # The healthy source's forwarder was cancelled: nobody is receiving on it any more.
    assert ok.recv.statistics().waiters_receive == 0


async def test_cancelling_merge_closes_dest(sim_clock: SimClock) -> None:
    a: Channel[int] = open_channel(0)
    dest: Channel[int] = open_channel(1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: merge([a.recv], dest.send))
        await sim_clock.run_until_idle()
        tg.cancel_scope.cancel()
    with pytest.raises(EndOfStream):
        dest.recv.receive_nowait()


async def test_a_closed_dest_raises_channel_closed() -> None:
    a: Channel[int] = open_channel(1)
    dest: Channel[int] = open_channel(1)
    await dest.recv.aclose()
    await a.send.send(1)
    with pytest.raises(ChannelClosed):
        await merge([a.recv], dest.send)


async def test_many_sources_blocked_on_a_full_dest_take_turns_without_channel_in_use(
    sim_clock: SimClock,
) -> None:
    sources: list[Channel[int]] = [open_channel(4) for _ in range(5)]
    dest: Channel[int] = open_channel(0)
    for k, src in enumerate(sources):
        for i in range(4):
            src.send.send_nowait(k * 10 + i)
        await src.send.aclose()
    got: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: merge([s.recv for s in sources], dest.send))
        await sim_clock.run_until_idle()  # every forwarder now waits on the full dest
        tg.start_soon(drain, dest.recv, got)
    assert sorted(got) == sorted(k * 10 + i for k in range(5) for i in range(4))


async def test_no_sources_is_a_value_error_naming_the_argument() -> None:
    dest: Channel[int] = open_channel(0)
    with pytest.raises(ValueError, match="sources"):
        await merge([], dest.send)
