"""The Clock protocol's timeouts and capabilities: fail_after, move_on_after, busy,
jump_when_idle, on WallClock and on a detached SimClock."""

from __future__ import annotations

import math

import anyio
import pytest

from tickwork import Clock, SimClock, WallClock


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(WallClock(), Clock)
    assert isinstance(SimClock(), Clock)


async def test_fail_after_fires_at_the_virtual_deadline() -> None:
    clock = SimClock()
    log: list[tuple[str, float]] = []

    async def guarded() -> None:
        try:
            with clock.fail_after(5):
                await clock.sleep(10)
        except TimeoutError:
            log.append(("timed out", clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(guarded)
        await clock.advance(4.999)
        assert log == []
        await clock.advance(1.0)
    assert log == [("timed out", 5.0)]
    assert clock.pending == 0


async def test_move_on_after_cancels_quietly_and_reports_it() -> None:
    clock = SimClock(2.0)
    caught: list[tuple[bool, float]] = []

    async def guarded() -> None:
        with clock.move_on_after(1.5) as scope:
            await anyio.sleep_forever()
        caught.append((scope.cancelled_caught, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(guarded)
        await clock.advance(10)
    assert caught == [(True, 3.5)]


async def test_a_block_that_finishes_in_time_leaves_no_timer() -> None:
    clock = SimClock()
    with clock.fail_after(5) as scope:
        assert clock.pending == 1
        assert clock.next_deadline == 5.0
    assert not scope.cancelled_caught
    assert (clock.pending, clock.next_deadline) == (0, None)
    with clock.move_on_after(math.inf):
        assert clock.pending == 0


async def test_non_positive_timeouts_cancel_at_once() -> None:
    clock = SimClock()
    with pytest.raises(TimeoutError), clock.fail_after(0):
        await anyio.lowlevel.checkpoint()
    with clock.move_on_after(-1) as scope:
        await anyio.lowlevel.checkpoint()
    assert scope.cancelled_caught
    assert clock.pending == 0


async def test_timeouts_fire_in_registration_order_with_sleepers() -> None:
    clock = SimClock()
    log: list[str] = []

    async def sleeper(name: str) -> None:
        await clock.sleep(1)
        log.append(name)

    async def timed(name: str) -> None:
        with clock.move_on_after(1):
            await anyio.sleep_forever()
        log.append(name)

    async with anyio.create_task_group() as tg:
        for i, fn in enumerate([sleeper, timed, sleeper, timed]):
            tg.start_soon(fn, f"{fn.__name__}{i}")
            await clock.run_until_idle()
        await clock.advance(1)
    assert log == ["sleeper0", "timed1", "sleeper2", "timed3"]


async def test_an_exception_inside_is_not_turned_into_a_timeout() -> None:
    clock = SimClock()
    with pytest.raises(KeyError), clock.fail_after(1):
        raise KeyError("x")
    assert clock.pending == 0


async def test_jump_when_idle_moves_an_undriven_clock_to_its_deadlines() -> None:
    clock = SimClock()
    log: list[tuple[str, float]] = []
    never = anyio.Event()

    async def napper() -> None:
        await clock.sleep(2)
        log.append(("napper", clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(napper)
        async with clock.jump_when_idle():
            with clock.move_on_after(5) as scope:
                await never.wait()
        assert scope.cancelled_caught
    assert log == [("napper", 2.0)]
    assert clock.now() == 5.0
    # The clock is free to be driven again.
    await clock.advance(1)
    assert clock.now() == 6.0


async def test_jump_when_idle_waits_for_a_late_timer() -> None:
    clock = SimClock()
    done: list[float] = []
    async with clock.jump_when_idle():
        await clock.run_until_idle()
        await clock.sleep(3)  # registered after the jump drive found nothing to do
        done.append(clock.now())
    assert done == [3.0]


async def test_jump_when_idle_is_a_no_op_while_another_task_drives() -> None:
    clock = SimClock()
    log: list[tuple[str, float]] = []

    async def stopper() -> None:
        await clock.sleep(1)
        async with clock.jump_when_idle():
            with clock.move_on_after(2):
                await anyio.sleep_forever()
        log.append(("grace over", clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(stopper)
        await clock.advance(2)
        assert log == []  # the driver, not the block, decides how far time goes
        await clock.advance(2)
    assert log == [("grace over", 3.0)]


async def test_jump_when_idle_holds_still_while_busy() -> None:
    clock = SimClock()
    release = anyio.Event()
    seen: list[float] = []

    async def outside() -> None:
        with clock.busy():
            await release.wait()
            seen.append(clock.now())

    async def releaser() -> None:
        await clock.sleep(0)
        release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(outside)
        async with clock.jump_when_idle():
            tg.start_soon(releaser)
            with clock.move_on_after(1):
                await anyio.sleep_forever()
    assert seen == [0.0]
    assert clock.now() == 1.0


async def test_wall_clock_timeouts_and_capabilities() -> None:
    clock = WallClock()
    with pytest.raises(TimeoutError), clock.fail_after(0):
        await anyio.sleep_forever()
    with clock.move_on_after(0) as scope:
        await anyio.sleep_forever()
    assert scope.cancelled_caught
    with clock.busy():
        pass
    async with clock.jump_when_idle():
        await clock.sleep(0)


async def test_timeouts_reject_bad_seconds() -> None:
    for clock in (SimClock(), WallClock()):
        with pytest.raises(TypeError), clock.fail_after("1"):  # type: ignore[arg-type]
            pass
    limit = "move_on_after seconds must be a finite"
    with pytest.raises(ValueError, match=limit), SimClock().move_on_after(math.nan):
        pass
