"""tickwork.recipes.load_balance.load_balance: round-robin, each item once."""

from __future__ import annotations

import anyio
import pytest

from tickwork import Channel, EndOfStream, SimClock, open_channel
from tickwork.recipes.load_balance import load_balance

from ._helpers import FailingReceive, drain


@pytest.mark.parametrize("maxsize", [0, 2])
async def test_items_go_round_robin_each_to_exactly_one_dest(maxsize: int) -> None:
    src: Channel[int] = open_channel(maxsize)
    outs: list[Channel[int]] = [open_channel(maxsize) for _ in range(3)]
    got: list[list[int]] = [[], [], []]
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: load_balance(src.recv, [c.send for c in outs]))
        for out, into in zip(outs, got, strict=True):
            tg.start_soon(drain, out.recv, into)
        async with src.send:
            for i in range(31):
                await src.send.send(i)
    assert got == [list(range(k, 31, 3)) for k in range(3)]


async def test_waits_for_the_chosen_dest_instead_of_skipping_it(sim_clock: SimClock) -> None:
    src: Channel[int] = open_channel(4)
    first: Channel[int] = open_channel(0)  # nobody reads
    second: Channel[int] = open_channel(4)
    for i in range(3):
        src.send.send_nowait(i)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: load_balance(src.recv, [first.send, second.send]))
        await sim_clock.run_until_idle()
        assert second.send.statistics().current_buffer_used == 0
        assert first.send.statistics().waiters_send == 1
        assert await first.recv.receive() == 0
        await sim_clock.run_until_idle()
        assert second.recv.receive_nowait() == 1
        # Item 2 is first's again: the balancer waits on it.
        assert first.send.statistics().waiters_send == 1
        tg.cancel_scope.cancel()


async def test_dests_are_closed_at_eof_on_error_and_not_when_asked_not_to() -> None:
    outs: list[Channel[int]] = [open_channel(4) for _ in range(2)]
    bad = FailingReceive[int](RuntimeError("boom"), items=(1, 2, 3))
    with pytest.raises(RuntimeError, match="boom"):
        await load_balance(bad, [c.send for c in outs])
    assert [outs[0].recv.receive_nowait(), outs[1].recv.receive_nowait()] == [1, 2]
    assert outs[0].recv.receive_nowait() == 3
    for out in outs:
        with pytest.raises(EndOfStream):
            out.recv.receive_nowait()

    kept: Channel[int] = open_channel(1)
    src: Channel[int] = open_channel(1)
    await src.send.aclose()
    await load_balance(src.recv, [kept.send], close_dests=False)
    kept.send.send_nowait(1)
    assert kept.recv.receive_nowait() == 1


async def test_cancelling_closes_dests(sim_clock: SimClock) -> None:
    src: Channel[int] = open_channel(0)
    out: Channel[int] = open_channel(1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: load_balance(src.recv, [out.send]))
        await sim_clock.run_until_idle()
        tg.cancel_scope.cancel()
    with pytest.raises(EndOfStream):
        out.recv.receive_nowait()


async def test_no_dests_is_a_value_error_naming_the_argument() -> None:
    src: Channel[int] = open_channel(0)
    with pytest.raises(ValueError, match="dests"):
        await load_balance(src.recv, [])
