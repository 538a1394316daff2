"""tickwork.recipes.cooperative_every: ticks that stop when the supervisor stops."""

from __future__ import annotations

import anyio
import pytest

from tickwork import Context, SimClock, Supervisor
from tickwork.recipes.cooperative_every import cooperative_every


async def test_ticks_on_the_clock_and_ends_at_once_when_stop_is_signalled(
    sim_clock: SimClock,
) -> None:
    ticks: list[float] = []
    ended_at: list[float] = []

    async def ticker(ctx: Context) -> None:
        async for t in cooperative_every(ctx, 1.0):
            ticks.append(t)
        ended_at.append(ctx.clock.now())

    async with Supervisor(clock=sim_clock) as sup:
        sup.spawn(ticker)
        await sim_clock.advance(3.5)
        assert ticks == [1.0, 2.0, 3.0]
        sup.signal_stop()  # mid-period: no waiting for the tick at 4.0
        await sim_clock.run_until_idle()
        assert ended_at == [3.5]
    assert ticks == [1.0, 2.0, 3.0]


async def test_a_stop_due_at_the_same_instant_as_a_tick_wins(sim_clock: SimClock) -> None:
    ticks: list[float] = []

    async def stopper(ctx: Context) -> None:
        await ctx.clock.sleep(2.0)  # registered before the ticker's 2.0 sleep
        ctx.supervisor.signal_stop()

    async def ticker(ctx: Context) -> None:
        async for t in cooperative_every(ctx, 1.0):
            ticks.append(t)

    async with Supervisor(clock=sim_clock) as sup:
        sup.spawn(stopper)
        sup.spawn(ticker)
        await sim_clock.advance(5.0)
    assert ticks == [1.0]


async def test_no_tick_after_a_stop_requested_before_the_loop(sim_clock: SimClock) -> None:
    ticks: list[float] = []

    async def ticker(ctx: Context) -> None:
        async for t in cooperative_every(ctx, 1.0, first="now"):
            ticks.append(t)

    sup = Supervisor(clock=sim_clock)
    sup.spawn(ticker)
    sup.signal_stop()
    async with sup:
        await sim_clock.advance(2.0)
    assert ticks == []


async def test_first_now_and_overruns_behave_like_clock_every() -> None:
    async def run(cooperative: bool) -> list[float]:
        clock = SimClock()
        ticks: list[float] = []

        async def ticker(ctx: Context) -> None:
            source = (
                cooperative_every(ctx, 1.0, first="now")
                if cooperative
                else ctx.clock.every(1.0, first="now")
            )
            async for t in source:
                ticks.append(t)
                if t == 1.0:
                    await ctx.clock.sleep(2.5)  # overrun past the ticks at 2.0 and 3.0
                if t >= 6.0:
                    return

        async with Supervisor(clock=clock) as sup:
            sup.spawn(ticker)
            await clock.advance(10.0)
        return ticks

    plain = await run(cooperative=False)
    assert plain[:2] == [0.0, 1.0]
    assert 2.0 not in plain
    assert await run(cooperative=True) == plain


@pytest.mark.parametrize("period", [0.0, -1.0])
async def test_a_non_positive_period_is_a_value_error(sim_clock: SimClock, period: float) -> None:
    errors: list[Exception] = []

    async def ticker(ctx: Context) -> None:
        try:
            cooperative_every(ctx, period)
        except ValueError as exc:
            errors.append(exc)

    async with Supervisor(clock=sim_clock) as sup:
        sup.spawn(ticker)
    assert len(errors) == 1
    assert "period" in str(errors[0])


async def test_the_waiting_iterator_leaves_no_task_behind(sim_clock: SimClock) -> None:
    async def ticker(ctx: Context) -> None:
        with anyio.move_on_after(0):
            async for _ in cooperative_every(ctx, 1.0):
                pass

    async with Supervisor(clock=sim_clock) as sup:
        sup.spawn(ticker)
        await sim_clock.run_until_idle()
        assert sim_clock.pending == 0
