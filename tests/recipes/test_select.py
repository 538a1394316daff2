"""tickwork.recipes.select.select: first ready receiver, no item lost."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork import Channel, ChannelClosed, EndOfStream, SimClock, open_channel
from tickwork.recipes.select import select


async def test_returns_a_ready_item_with_its_receiver_index() -> None:
    chans: list[Channel[str]] = [open_channel(1) for _ in range(3)]
    chans[1].send.send_nowait("b")
    assert await select(*(c.recv for c in chans)) == (1, "b")


async def test_ready_receivers_take_turns() -> None:
    a: Channel[int] = open_channel(100)
    b: Channel[int] = open_channel(100)
    for i in range(50):
        a.send.send_nowait(i)
        b.send.send_nowait(i)
    picks = [(await select(a.recv, b.recv))[0] for _ in range(40)]
    assert picks.count(0) == picks.count(1) == 20


async def test_waits_for_the_first_receiver_that_gets_an_item(sim_clock: SimClock) -> None:
    chans: list[Channel[int]] = [open_channel(0) for _ in range(3)]
    result: list[tuple[int, int]] = []

    async def selector() -> None:
        result.append(await select(*(c.recv for c in chans)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(selector)
        await sim_clock.run_until_idle()
        assert result == []
        await chans[2].send.send(42)
    assert result == [(2, 42)]
    # The helpers on the other receivers are gone.
    assert [c.recv.statistics().waiters_receive for c in chans] == [0, 0, 0]


async def test_items_ready_in_the_same_pass_stay_in_their_channels(
    sim_clock: SimClock,
) -> None:
    chans: list[Channel[int]] = [open_channel(1) for _ in range(3)]
    recvs = [c.recv for c in chans]
    first: list[tuple[int, int]] = []

    async def selector() -> None:
        first.append(await select(*recvs))

    async with anyio.create_task_group() as tg:
        tg.start_soon(selector)
        await sim_clock.run_until_idle()  # select waits on every receiver
        assert [r.statistics().waiters_receive for r in recvs] == [1, 1, 1]
        for k, chan in enumerate(chans):
            chan.send.send_nowait(k)  # every receiver becomes ready in this pass
    (index, item) = first[0]
    assert index == item
    # Exactly one item was taken; the other two are still in their channels.
    assert sorted(r.statistics().current_buffer_used for r in recvs) == [0, 1, 1]
    rest = [await select(*recvs), await select(*recvs)]
    assert sorted([first[0], *rest]) == [(0, 0), (1, 1), (2, 2)]


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(st.tuples(st.sampled_from([0, 1, 3]), st.integers(0, 6)), min_size=1, max_size=6),
    reader_slowness=st.integers(0, 3),
)
async def test_every_item_sent_is_returned_once_in_order_even_when_many_become_ready_together(
    plan: list[tuple[int, int]], reader_slowness: int
) -> None:
    chans: list[Channel[int]] = [open_channel(size) for size, _ in plan]
    recvs = [c.recv for c in chans]
    go = anyio.Event()
    got: list[tuple[int, int]] = []

    started = [0] * len(plan)  # sends begun, per channel
    completed = [0] * len(plan)  # sends that have returned, per channel

    async def producer(k: int, count: int) -> None:
        await go.wait()  # every producer wakes in the same scheduler pass
        async with chans[k].send:
            for i in range(count):
                started[k] += 1
                await chans[k].send.send(i)
                completed[k] += 1

    def check_nothing_taken_unreturned() -> None:
        # An item select took but did not return would be in neither count; a parked
        # rendezvous sender whose item select just returned has not resumed yet.
        for k, recv in enumerate(recvs):
            returned = sum(1 for kk, _ in got if kk == k)
            buffered = recv.statistics().current_buffer_used
            assert completed[k] <= returned + buffered <= started[k], (
                k,
                started[k],
                completed[k],
                returned,
                buffered,
            )

    async def selector() -> None:
        while True:
            try:
                got.append(await select(*recvs))
            except EndOfStream:
                return
            check_nothing_taken_unreturned()
            # A slower reader varies the interleaving; nothing waits on these.
            for _ in range(reader_slowness):
                await anyio.lowlevel.checkpoint()

    clock = SimClock()
    async with anyio.create_task_group() as tg:
        tg.start_soon(selector)
        for k, (_, count) in enumerate(plan):
            tg.start_soon(producer, k, count)
        await clock.run_until_idle()  # the selector waits in select, producers on `go`
        go.set()
    sent = sorted((k, i) for k, (_, count) in enumerate(plan) for i in range(count))
    assert sorted(got) == sent
    for k in range(len(plan)):
        assert [i for kk, i in got if kk == k] == list(range(plan[k][1]))


async def test_end_of_stream_only_once_every_receiver_has_ended() -> None:
    a: Channel[int] = open_channel(1)
    b: Channel[int] = open_channel(1)
    await a.send.aclose()
    b.send.send_nowait(9)
    assert await select(a.recv, b.recv) == (1, 9)
    await b.send.aclose()
    with pytest.raises(EndOfStream):
        await select(a.recv, b.recv)


async def test_end_of_stream_while_waiting(sim_clock: SimClock) -> None:
    a: Channel[int] = open_channel(0)
    b: Channel[int] = open_channel(0)
    outcome: list[BaseException] = []

    async def selector() -> None:
        try:
            await select(a.recv, b.recv)
        except EndOfStream as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(selector)
        await sim_clock.run_until_idle()
        await a.send.aclose()
        await sim_clock.run_until_idle()
        assert outcome == []
        await b.send.aclose()
    assert len(outcome) == 1


async def test_cancelled_select_takes_nothing(sim_clock: SimClock) -> None:
    a: Channel[int] = open_channel(1)
    b: Channel[int] = open_channel(1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(select, a.recv, b.recv)
        await sim_clock.run_until_idle()
        tg.cancel_scope.cancel()
    assert [c.recv.statistics().waiters_receive for c in (a, b)] == [0, 0]
    a.send.send_nowait(1)
    assert a.recv.receive_nowait() == 1


async def test_a_receiver_error_propagates() -> None:
    a: Channel[int] = open_channel(1)
    b: Channel[int] = open_channel(1)
    await b.recv.aclose()
    with pytest.raises(ChannelClosed):
        await select(a.recv, b.recv)


async def test_bad_arguments() -> None:
    a: Channel[int] = open_channel(1)
    with pytest.raises(ValueError, match="receivers"):
        await select()
    with pytest.raises(ValueError, match="distinct"):
        await select(a.recv, a.recv)
