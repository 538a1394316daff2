"""SimClock guarantees 1-6 (SPEC section 1), each pinned on asyncio and trio."""

from __future__ import annotations

import asyncio
import collections
import math
import random
import threading

import anyio
import anyio.lowlevel
import pytest

from tickwork import Channel, SimClock, WallClock, open_channel
from tickwork.testing import wait_all_blocked

# -- guarantee 1: wake order ------------------------------------------------------


async def _wake_order_run(seed: int) -> list[tuple[str, float]]:
    clock = SimClock()
    rng = random.Random(seed)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, delays: list[float]) -> None:
        for delay in delays:
            await clock.sleep(delay)
            woke.append((name, clock.now()))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            # Few distinct delays, so many sleepers share a deadline.
            delays = [rng.choice([0.1, 0.2, 0.3]) for _ in range(5)]
            tg.start_soon(sleeper, f"s{i}", delays)
            await clock.run_until_idle()  # fixes registration order across backends
        await clock.advance(2.0)
    return woke


async def test_wake_order_is_deadline_then_registration_and_repeats() -> None:
    first = await _wake_order_run(seed=7)
    assert len(first) == 100
    times = [t for _, t in first]
    assert times == sorted(times), "sleepers woke out of deadline order"
    # Among sleepers sharing an instant, registration order decides: at t=0.1 only
    # first sleeps are due, registered in start order s0, s1, ...
    at_first_instant = [name for name, t in first if t == min(times)]
    assert at_first_instant == sorted(at_first_instant, key=lambda n: int(n[1:]))
    for _ in range(49):
        assert await _wake_order_run(seed=7) == first


# -- guarantee 2: settle before moving on ------------------------------------------


async def test_token_through_200_hops_arrives_before_the_next_wake() -> None:
    clock = SimClock()
    hops = 200
    channels: list[Channel[str]] = [open_channel(0) for _ in range(hops + 1)]
    arrival: list[float] = []
    seen_by_next_sleeper: list[bool] = []

    async def relay(i: int) -> None:
        token = await channels[i].recv.receive()
        await channels[i + 1].send.send(token)

    async def sink() -> None:
        await channels[hops].recv.receive()
        arrival.append(clock.now())

    async def origin() -> None:
        await clock.sleep(1.0)
        await channels[0].send.send("token")

    async def next_sleeper() -> None:
        await clock.sleep(1.0)  # same instant, registered after origin
        seen_by_next_sleeper.append(bool(arrival))

    async with anyio.create_task_group() as tg:
        for i in range(hops):
            tg.start_soon(relay, i)
        tg.start_soon(sink)
        await clock.run_until_idle()
        tg.start_soon(origin)
        await clock.run_until_idle()
        tg.start_soon(next_sleeper)
        await clock.advance(5.0)
    assert arrival == [1.0]
    assert seen_by_next_sleeper == [True]


async def test_thousand_checkpoints_then_sleep_wakes_exactly_half_a_second_later() -> None:
    clock = SimClock()
    woke: list[float] = []

    async def busy_then_sleep() -> None:
        await clock.sleep(1.0)
        for _ in range(1000):
            await anyio.lowlevel.checkpoint()
        await clock.sleep(0.5)
        woke.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(busy_then_sleep)
        await clock.advance(3.0)
    assert woke == [1.5]


async def test_run_until_idle_runs_everything_runnable_without_moving_time() -> None:
    clock = SimClock(10.0)
    ch: Channel[int] = open_channel(math.inf)

    async def producer() -> None:
        for i in range(500):
            await ch.send.send(i)
            await anyio.lowlevel.checkpoint()
        await ch.send.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        await clock.run_until_idle()
        assert ch.send.statistics().open_send_streams == 0
        assert ch.recv.statistics().current_buffer_used == 500
    assert clock.now() == 10.0


# -- guarantee 3: cancelled sleepers leave no trace ---------------------------------


async def test_cancelled_sleepers_are_not_pending_and_not_the_next_deadline() -> None:
    clock = SimClock()
    woke: list[float] = []

    async def keeper() -> None:
        await clock.sleep(50.0)
        woke.append(clock.now())

    async with anyio.create_task_group() as outer:
        outer.start_soon(keeper)
        async with anyio.create_task_group() as tg:
            for i in range(2000):
                tg.start_soon(clock.sleep, 1.0 + i / 1000)
            await clock.run_until_idle()
            assert clock.pending == 2001
            assert clock.next_deadline == 1.0
            tg.cancel_scope.cancel()
        assert clock.pending == 1
        assert clock.next_deadline == 50.0
        await clock.advance(100.0)
    assert woke == [50.0]
    assert clock.pending == 0
    assert clock.next_deadline is None


async def test_cancelled_sleep_raises_and_does_not_wake_later() -> None:
    clock = SimClock()
    outcomes: list[str] = []

    async def sleeper() -> None:
        with anyio.move_on_after(3600):  # wall-clock scope, cancelled by hand below
            try:
                await clock.sleep(1.0)
            except anyio.get_cancelled_exc_class():
                outcomes.append("cancelled")
                raise
            outcomes.append("woke")

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await clock.run_until_idle()
        tg.cancel_scope.cancel()
    await clock.advance(2.0)
    assert outcomes == ["cancelled"]


# -- guarantee 5: exact arithmetic ---------------------------------------------------


async def test_hundred_sleeps_of_a_hundredth_end_exactly_at_one() -> None:
    clock = SimClock()
    count = 0

    async def loop() -> None:
        nonlocal count
        while True:
            await clock.sleep(0.01)
            count += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(loop)
        await clock.advance(1.0)
        assert count == 100
        assert clock.now() == 1.0
        await clock.advance(1.0)
        assert count == 200
        tg.cancel_scope.cancel()


async def test_every_ticks_are_start_plus_k_times_period() -> None:
    clock = SimClock(0.5)
    ticks: list[float] = []

    async def ticker() -> None:
        async for t in clock.every(0.1):
            ticks.append(t)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await clock.advance(10.0)
        tg.cancel_scope.cancel()
    assert len(ticks) == 100
    assert ticks == [(500_000_000 + k * 100_000_000) / 1e9 for k in range(1, 101)]


async def test_every_first_now_ticks_at_start() -> None:
    clock = SimClock(3.0)
    ticks: list[float] = []

    async def ticker() -> None:
        async for t in clock.every(1.0, first="now"):
            ticks.append(t)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await clock.advance(2.0)
        tg.cancel_scope.cancel()
    assert ticks == [3.0, 4.0, 5.0]


async def test_every_skips_missed_ticks_without_a_burst() -> None:
    clock = SimClock()
    ticks: list[float] = []

    async def slow_consumer() -> None:
        async for t in clock.every(1.0):
            ticks.append(t)
            if t == 2.0:
                await clock.sleep(3.5)  # ticks 3, 4 and 5 fall due meanwhile

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_consumer)
        await clock.advance(8.0)
        tg.cancel_scope.cancel()
    # Only the latest missed tick (5.0) is delivered, late, then the schedule resumes.
    assert ticks == [1.0, 2.0, 5.0, 6.0, 7.0, 8.0]


# -- guarantee 6: outside work holds the clock ---------------------------------------


async def test_run_sync_thread_holds_the_clock() -> None:
    clock = SimClock()
    seen_in_thread: list[float] = []
    woke: list[float] = []

    def slow_work() -> str:
        threading.Event().wait(0.2)  # real work in a real thread, 0.2 s of wall time
        seen_in_thread.append(clock.now())
        return "done"

    async def worker() -> None:
        await clock.sleep(1.0)
        assert await clock.run_sync(slow_work) == "done"
        await clock.sleep(1.0)
        woke.append(clock.now())

    async def other() -> None:
        await clock.sleep(1.5)
        woke.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        tg.start_soon(other)
        await clock.advance(10.0)
    assert seen_in_thread == [1.0]
    assert woke == [1.5, 2.0]


async def test_busy_block_holds_the_clock_until_it_exits() -> None:
    clock = SimClock()
    in_busy = anyio.Event()
    release = anyio.Event()
    log: list[tuple[str, float]] = []

    async def outside_io() -> None:
        await clock.sleep(1.0)
        with clock.busy():
            in_busy.set()
            await release.wait()  # stands in for a reply from outside the program
            log.append(("released", clock.now()))
        await clock.sleep(0.25)
        log.append(("after", clock.now()))

    async def other() -> None:
        await clock.sleep(1.1)
        log.append(("other", clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(outside_io)
        tg.start_soon(other)
        await clock.run_until_idle()
        tg.start_soon(clock.advance, 5.0)
        await in_busy.wait()
        # The driver is parked on the busy block: nothing due at 1.1 may run yet.
        await wait_all_blocked()
        assert (clock.now(), log) == (1.0, [])
        release.set()
    assert log == [("released", 1.0), ("other", 1.1), ("after", 1.25)]
    assert clock.now() == 5.0


# -- driving and reading ---------------------------------------------------------------


async def test_sleep_non_positive_and_past_deadline_are_checkpoints() -> None:
    clock = SimClock(5.0)
    await clock.sleep(0)
    await clock.sleep(-1)
    await clock.wait_until(4.0)
    assert clock.pending == 0
    assert clock.now() == 5.0


async def test_infinite_sleep_never_wakes_and_is_not_pending() -> None:
    clock = SimClock()
    outcome: list[str] = []

    async def forever() -> None:
        try:
            await clock.sleep(math.inf)
        finally:
            outcome.append("cancelled")

    async with anyio.create_task_group() as tg:
        tg.start_soon(forever)
        tg.start_soon(clock.wait_until, math.inf)
        await clock.advance(1e9)
        assert (outcome, clock.pending) == ([], 0)
        tg.cancel_scope.cancel()
    assert outcome == ["cancelled"]


async def test_wait_until_wakes_at_the_deadline() -> None:
    clock = SimClock()
    woke: list[float] = []

    async def waiter() -> None:
        await clock.wait_until(2.5)
        woke.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await clock.run_until_idle()
        assert clock.next_deadline == 2.5
        await clock.advance_to(2.0)
        assert woke == []
        await clock.advance_to(3.0)
    assert woke == [2.5]
    await clock.advance_to(1.0)  # the past: a no-op
    assert clock.now() == 3.0


async def test_concurrent_advance_is_an_error() -> None:
    clock = SimClock()
    in_advance = anyio.Event()
    release = anyio.Event()

    async def holder() -> None:
        await clock.sleep(1.0)
        with clock.busy():  # keeps the background advance in progress
            in_advance.set()
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        tg.start_soon(clock.advance, 5.0)
        await in_advance.wait()
        with pytest.raises(RuntimeError, match="already being advanced"):
            await clock.advance(1.0)
        release.set()
    assert clock.now() == 5.0


async def test_two_clocks_advanced_at_once_both_settle() -> None:
    """A nested supervisor's clock driven while the outer clock advances (ADR 0002)."""
    outer, inner = SimClock(), SimClock()
    log: list[tuple[str, float]] = []

    async def inner_sleeper() -> None:
        await inner.sleep(3.0)
        log.append(("inner woke", inner.now()))

    async def nested_driver() -> None:
        await outer.sleep(1.0)
        await inner.advance(5.0)
        log.append(("inner advanced", outer.now()))

    async def outer_sleeper() -> None:
        await outer.sleep(1.5)
        log.append(("outer woke", outer.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(inner_sleeper)
        tg.start_soon(nested_driver)
        tg.start_soon(outer_sleeper)
        with anyio.fail_after(10):  # a hang here is the bug this test pins
            await outer.advance(2.0)
    assert log == [("inner woke", 3.0), ("inner advanced", 1.0), ("outer woke", 1.5)]
    assert (outer.now(), inner.now()) == (2.0, 5.0)


async def test_run_until_idle_joins_an_advance_in_progress() -> None:
    clock = SimClock()
    seen: list[float] = []

    async def joiner() -> None:
        await clock.sleep(1.0)
        await clock.run_until_idle()  # must not raise while the test task advances
        seen.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(joiner)
        await clock.advance(3.0)
    assert seen == [1.0]


async def test_cancelled_advance_leaves_the_clock_usable() -> None:
    clock = SimClock()
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(1.0)
        woke.append(clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await clock.advance(5.0)
        await clock.advance(5.0)
    assert woke == [1.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SimClock(settle_rounds=0), "settle_rounds must be >= 1"),
        (lambda: SimClock(math.nan), "SimClock t0 must be a finite number"),
        (lambda: SimClock().every(0), "period must be > 0"),
        (lambda: SimClock().every(-1.0), "period must be > 0"),
        (lambda: SimClock().every(1.0, first="soon"), "first must be 'after' or 'now'"),  # type: ignore[arg-type]
        (lambda: WallClock().every(0), "period must be > 0"),
    ],
)
def test_bad_arguments_raise_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


async def test_advance_rejects_negative_and_non_finite() -> None:
    clock = SimClock()
    with pytest.raises(ValueError, match="dt >= 0"):
        await clock.advance(-1)
    with pytest.raises(ValueError, match="finite"):
        await clock.advance(math.inf)
    with pytest.raises(TypeError, match="number of seconds"):
        await clock.advance("1")  # type: ignore[arg-type]
    assert clock.now() == 0.0


def test_settle_rounds_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="settle_rounds must be an int"):
        SimClock(settle_rounds=2.5)  # type: ignore[arg-type]


def test_reading_the_clock_needs_no_event_loop() -> None:
    clock = SimClock(1.25)
    assert clock.now() == 1.25
    assert clock.pending == 0
    assert clock.next_deadline is None
    assert "SimClock(now=1.25" in repr(clock)


def test_asyncio_ready_queue_is_observable() -> None:
    """Canary for ADR 0002: SimClock reads the CPython loop's ready-queue length."""
    loop = asyncio.new_event_loop()
    try:
        ready = getattr(loop, "_ready", None)
        assert isinstance(ready, collections.deque)
        loop.call_soon(lambda: None)
        assert len(ready) == 1
    finally:
        loop.close()


async def test_wall_clock_basics() -> None:
    clock = WallClock()
    before = clock.now()
    await clock.sleep(0)
    await clock.wait_until(before - 1.0)
    ticks = clock.every(3600.0, first="now")
    assert await ticks.__anext__() >= before
    assert clock.now() >= before
    assert repr(clock) == "WallClock()"


# -- bad input at the edges of the representable range -------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SimClock(t0=1e300), r"SimClock t0 1e\+300 is beyond the representable range"),
        (lambda: SimClock().every(1e-10), "rounds to 0 ns"),
        (lambda: WallClock().every(1e-10), "rounds to 0 ns"),
    ],
)
def test_out_of_range_values_name_the_limit(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


async def test_huge_advance_names_the_limit_and_huge_sleep_is_forever() -> None:
    clock = SimClock()
    with pytest.raises(ValueError, match=r"at most 9223372036\.854776 s"):
        await clock.advance(1e300)
    outcome: list[str] = []

    async def forever() -> None:
        try:
            await clock.sleep(1e300)
        finally:
            outcome.append("cancelled")

    async with anyio.create_task_group() as tg:
        tg.start_soon(forever)
        tg.start_soon(clock.sleep, 9e9)  # finite, within range: pending
        await clock.advance(1e6)
        assert (outcome, clock.pending) == ([], 1)
        tg.cancel_scope.cancel()
    assert outcome == ["cancelled"]
