"""HealthTicker under SimClock: pings, skips, reaping, isolation, degradation."""

from __future__ import annotations

import anyio
import pytest

from tickwork import SimClock, Supervisor
from tickwork.network import HealthTarget, HealthTicker


class Target:
    def __init__(self, clock: SimClock, *, fail_at: set[float] | None = None) -> None:
        self.clock = clock
        self.in_flight = 0
        self.fail_at = fail_at or set()
        self.hang = False
        self.pinged: list[float] = []
        self.reaped: list[float] = []

    async def ping(self) -> None:
        now = self.clock.now()
        self.pinged.append(now)
        if self.hang:
            await anyio.sleep_forever()
        if now in self.fail_at:
            raise ConnectionError(f"no pong at {now}")

    def reap_idle(self) -> None:
        self.reaped.append(self.clock.now())


class AsyncReaper(Target):
    async def reap_idle(self) -> None:  # type: ignore[override]
        await self.clock.sleep(0)
        self.reaped.append(self.clock.now())


async def test_pings_every_interval_and_reaps_idle_targets() -> None:
    clock = SimClock()
    ticker = HealthTicker()
    a, b = Target(clock), AsyncReaper(clock)
    assert isinstance(a, HealthTarget)
    ticker.register(a, name="a")
    ticker.register(b, name="b")
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker)
        await clock.advance_to(95)
        await sup.stop()
    assert a.pinged == b.pinged == [30, 60, 90]
    assert a.reaped == b.reaped == [30, 60, 90]
    assert ticker.ticks == 3
    snap = ticker.snapshot()
    assert snap["a"].pings == 3
    assert snap["a"].last_ok == 90
    assert not snap["a"].degraded


async def test_targets_with_work_in_flight_are_skipped() -> None:
    clock = SimClock()
    ticker = HealthTicker(interval=10)
    busy = Target(clock)
    busy.in_flight = 2
    ticker.register(busy, name="busy")
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker)
        await clock.advance_to(25)
        busy.in_flight = 0
        await clock.advance_to(30)
        await sup.stop()
    assert busy.pinged == [30]
    assert busy.reaped == [30]
    snap = ticker.snapshot()["busy"]
    assert (snap.skipped, snap.pings, snap.last_ok) == (2, 1, 30)


async def test_one_failing_or_hanging_target_never_affects_the_others() -> None:
    clock = SimClock()
    ticker = HealthTicker(interval=10, ping_timeout=2)
    good = Target(clock)
    bad = Target(clock, fail_at={10.0, 20.0, 30.0})
    hung = Target(clock)
    hung.hang = True
    for name, t in (("good", good), ("bad", bad), ("hung", hung)):
        ticker.register(t, name=name)
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker)
        await clock.advance_to(35)
        await sup.stop()
    assert good.pinged == bad.pinged == hung.pinged == [10, 20, 30]
    snap = ticker.snapshot()
    assert snap["good"].failures == 0
    assert snap["bad"].failures == 3
    assert isinstance(snap["bad"].last_error, ConnectionError)
    assert snap["hung"].failures == 3
    assert isinstance(snap["hung"].last_error, TimeoutError)
    assert snap["hung"].last_failure == 32  # the ping timed out 2 s into the tick
    assert ticker.ticks == 3


async def test_degraded_after_more_than_max_failures_in_window_until_reset() -> None:
    clock = SimClock()
    ticker = HealthTicker(interval=30, max_failures=2, window=100)
    flaky = Target(clock, fail_at={30.0, 60.0, 90.0})
    sparse = Target(clock, fail_at={30.0, 150.0, 270.0})  # never 3 within 100 s
    ticker.register(flaky, name="flaky")
    ticker.register(sparse, name="sparse")
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker)
        await clock.advance_to(60)
        assert not ticker.snapshot()["flaky"].degraded  # 2 failures: not more than 2
        await clock.advance_to(90)
        assert ticker.snapshot()["flaky"].degraded
        await clock.advance_to(200)
        # Healthy pings since, but degraded sticks until reset.
        assert ticker.snapshot()["flaky"].degraded
        assert ticker.snapshot()["flaky"].recent_failures == 3
        ticker.reset("flaky")
        assert not ticker.snapshot()["flaky"].degraded
        await clock.advance_to(300)
        await sup.stop()
    snap = ticker.snapshot()
    assert not snap["flaky"].degraded
    assert snap["flaky"].recent_failures == 0
    assert snap["sparse"].failures == 3
    assert not snap["sparse"].degraded


async def test_targets_can_join_and_leave_while_running() -> None:
    clock = SimClock()
    ticker = HealthTicker(interval=10)
    early, late = Target(clock), Target(clock)
    name = ticker.register(early)
    assert name == "Target-1"
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker)
        await clock.advance_to(15)
        ticker.register(late, name="late")
        ticker.unregister(name)
        await clock.advance_to(25)
        await sup.stop()
    assert early.pinged == [10]
    assert late.pinged == [20]
    assert set(ticker.snapshot()) == {"late"}


async def test_stop_ends_the_ticker_without_waiting_for_the_next_tick() -> None:
    clock = SimClock()
    ticker = HealthTicker(interval=1000)
    async with Supervisor(clock=clock) as sup:
        sup.add(ticker)
        await clock.advance(1)
        await sup.stop()
    assert clock.now() == 1
    assert sup.snapshot()[ticker.name].state == "stopped"


def test_bad_input() -> None:
    clock = SimClock()
    with pytest.raises(ValueError, match="interval"):
        HealthTicker(interval=0)
    with pytest.raises(ValueError, match="ping_timeout"):
        HealthTicker(ping_timeout=-1)
    with pytest.raises(ValueError, match="max_failures"):
        HealthTicker(max_failures=-1)
    with pytest.raises(TypeError, match="max_failures"):
        HealthTicker(max_failures=1.5)  # type: ignore[arg-type]
    ticker = HealthTicker()
    with pytest.raises(TypeError, match="ping"):
        ticker.register(object())  # type: ignore[arg-type]
    ticker.register(Target(clock), name="x")
    with pytest.raises(ValueError, match="already registered"):
        ticker.register(Target(clock), name="x")
    with pytest.raises(KeyError, match="nope"):
        ticker.unregister("nope")
    with pytest.raises(KeyError, match="nope"):
        ticker.reset("nope")
