"""Supervisor: error policies, on_stop bookkeeping, stop, start barrier, health, bad input."""

from __future__ import annotations

import logging
import math

import anyio
import anyio.lowlevel
import pytest

from _groups import leaves, raises_group
from tickwork import (
    Context,
    Daemon,
    DaemonError,
    DaemonHealth,
    SimClock,
    Supervisor,
    TickworkError,
    WallClock,
    daemon,
)


class Scripted(Daemon):
    """A daemon whose hooks do what the test says, recording each call in ``log``.

    ``fail`` names the hook that raises ``ValueError(name)``; ``run_for`` is the clock
    time ``run`` sleeps (``None`` = wait for the stop event, ``math.inf`` = forever).
    """

    def __init__(
        self,
        name: str,
        log: list[str],
        *,
        fail: str | None = None,
        run_for: float | None = 1.0,
    ) -> None:
        self.name = name
        self.log = log
        self.fail = fail
        self.run_for = run_for

    def _maybe_fail(self, hook: str) -> None:
        if self.fail == hook:
            raise ValueError(f"{self.name} {hook} boom")

    async def on_start(self, ctx: Context) -> None:
        self.log.append(f"{self.name}.on_start")
        self._maybe_fail("on_start")

    async def run(self, ctx: Context) -> None:
        self.log.append(f"{self.name}.run")
        try:
            if self.run_for is None:
                await ctx.stop_event.wait()
            elif math.isinf(self.run_for):
                await anyio.Event().wait()
            else:
                await ctx.clock.sleep(self.run_for)
        except anyio.get_cancelled_exc_class():
            self.log.append(f"{self.name}.cancelled")
            raise
        self._maybe_fail("run")

    async def on_stop(self, ctx: Context) -> None:
        # A checkpoint first: it raises at once if a cancelled on_stop were not shielded.
        await anyio.lowlevel.checkpoint()
        self.log.append(f"{self.name}.on_stop")
        self._maybe_fail("on_stop")


# -- shutdown policy -----------------------------------------------------------------


async def test_shutdown_raises_daemon_error_and_cancels_siblings() -> None:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock)

    async def body() -> None:
        async with sup:
            sup.add(Scripted("bad", log, fail="run", run_for=2.0))
            sup.add(Scripted("sib", log, run_for=math.inf))
            await clock.advance(10.0)

    group = await raises_group(body)
    [leaf] = leaves(group)
    assert isinstance(leaf, DaemonError)
    assert isinstance(leaf, TickworkError)
    assert leaf.daemon == "bad"
    assert str(leaf).startswith("daemon 'bad' failed: ")
    assert "bad run boom" in str(leaf)
    assert isinstance(leaf.__cause__, ValueError)
    assert str(leaf.__cause__) == "bad run boom"
    assert sorted(log) == sorted(
        [
            "bad.on_start",
            "bad.run",
            "bad.on_stop",
            "sib.on_start",
            "sib.run",
            "sib.cancelled",
            "sib.on_stop",
        ]
    )
    snap = sup.snapshot()
    assert snap["bad"].state == "failed"
    assert snap["bad"].last_error_phase == "run"
    assert snap["bad"].last_error is leaf.__cause__
    assert snap["sib"].state == "stopped"
    assert clock.now() == 2.0


async def test_shutdown_on_start_failure_skips_its_on_stop() -> None:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock)

    async def body() -> None:
        async with sup:
            sup.add(Scripted("sib", log, run_for=None))
            sup.add(Scripted("bad", log, fail="on_start"))

    group = await raises_group(body)
    [leaf] = leaves(group)
    assert isinstance(leaf, DaemonError)
    assert str(leaf).startswith("daemon 'bad' failed: ")
    assert "bad.on_stop" not in log
    assert "bad.run" not in log
    assert "sib.on_stop" in log
    assert sup.snapshot()["bad"].last_error_phase == "on_start"
    assert sup.snapshot()["bad"].started_at is None


@pytest.mark.parametrize("policy", ["shutdown", "restart"])
async def test_on_stop_failure_is_terminal_cleanup_failed(policy: str) -> None:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock, on_error=policy)  # type: ignore[arg-type]

    async def body() -> None:
        async with sup:
            sup.add(Scripted("bad", log, fail="on_stop"))
            await clock.advance(100.0)

    group = await raises_group(body)
    [leaf] = leaves(group)
    assert isinstance(leaf, DaemonError)
    assert str(leaf).startswith("daemon 'bad' cleanup failed: ")
    assert isinstance(leaf.__cause__, ValueError)
    # never retried, even under "restart"
    assert log == ["bad.on_start", "bad.run", "bad.on_stop"]
    health = sup.snapshot()["bad"]
    assert health.state == "failed"
    assert health.last_error_phase == "on_stop"
    assert health.restart_count == 0


async def test_exception_in_body_cancels_daemons_with_on_stop() -> None:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock)

    async def body() -> None:
        async with sup:
            sup.add(Scripted("a", log, run_for=math.inf))
            await sup.wait_all_started()
            raise KeyError("body")

    group = await raises_group(body)
    assert [type(e) for e in leaves(group)] == [KeyError]
    assert log == ["a.on_start", "a.run", "a.cancelled", "a.on_stop"]


async def test_run_failure_overtaken_by_cancellation_is_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="tickwork")
    stops: list[str] = []

    class RaisesWhenCancelled(Daemon):
        name = "raiser"

        async def run(self, ctx: Context) -> None:
            try:
                await anyio.Event().wait()
            except anyio.get_cancelled_exc_class():
                raise ValueError("raised while cancelled") from None

        async def on_stop(self, ctx: Context) -> None:
            stops.append("on_stop")
            await anyio.lowlevel.checkpoint()  # the host's cancellation lands here

    sup = Supervisor(clock=SimClock())

    async def body() -> None:
        async with sup:
            sup.add(RaisesWhenCancelled())
            await sup.wait_all_started()
            raise KeyError("body")

    group = await raises_group(body)
    assert [type(e) for e in leaves(group)] == [KeyError]
    assert stops == ["on_stop"]
    h = sup.snapshot()["raiser"]
    assert (h.state, h.last_error_phase) == ("failed", "run")
    assert str(h.last_error) == "raised while cancelled"
    assert any("raised while cancelled" in r.getMessage() for r in caplog.records)


async def test_outer_cancellation_runs_on_stop_once() -> None:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock)
    with anyio.CancelScope() as outer:
        async with sup:
            sup.add(Scripted("a", log, run_for=math.inf))
            sup.add(Scripted("b", log, run_for=5.0))
            await sup.wait_all_started()
            outer.cancel()
    assert outer.cancelled_caught
    assert sorted(log) == sorted(
        [
            "a.on_start",
            "a.run",
            "a.cancelled",
            "a.on_stop",
            "b.on_start",
            "b.run",
            "b.cancelled",
            "b.on_stop",
        ]
    )
    assert {h.state for h in sup.snapshot().values()} == {"stopped"}


# -- ignore policy -----------------------------------------------------------------


async def test_ignore_logs_and_siblings_go_on(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimClock()
    log: list[str] = []
    caplog.set_level(logging.ERROR, logger="tickwork")
    async with Supervisor(clock=clock, on_error="ignore") as sup:
        sup.add(Scripted("run_fail", log, fail="run", run_for=1.0))
        sup.add(Scripted("start_fail", log, fail="on_start"))
        sup.add(Scripted("stop_fail", log, fail="on_stop", run_for=2.0))
        sup.add(Scripted("ok", log, run_for=3.0))
        await clock.advance(1.0)
        assert sup.snapshot()["ok"].state == "running"
        await clock.advance(2.0)
    assert log.count("run_fail.on_stop") == 1
    assert "start_fail.on_stop" not in log
    assert "start_fail.run" not in log
    assert log.count("stop_fail.on_stop") == 1
    assert log.count("ok.on_stop") == 1
    snap = sup.snapshot()
    assert (snap["run_fail"].state, snap["run_fail"].last_error_phase) == ("failed", "run")
    assert (snap["start_fail"].state, snap["start_fail"].last_error_phase) == (
        "failed",
        "on_start",
    )
    assert (snap["stop_fail"].state, snap["stop_fail"].last_error_phase) == ("failed", "on_stop")
    assert (snap["ok"].state, snap["ok"].last_error) == ("stopped", None)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("'run_fail' failed" in m for m in messages)
    assert any("'start_fail' failed" in m for m in messages)
    assert any("'stop_fail' cleanup failed" in m for m in messages)


# -- stop ----------------------------------------------------------------------------


def test_signal_stop_before_entry_is_idempotent_and_stop_event_needs_entry() -> None:
    sup = Supervisor(clock=SimClock())
    with pytest.raises(RuntimeError, match="stop_event"):
        _ = sup.stop_event
    sup.signal_stop()
    sup.signal_stop()
    with pytest.raises(RuntimeError, match="stop_event"):
        _ = sup.stop_event


async def test_daemons_start_stopping_after_early_signal_stop() -> None:
    seen: list[bool] = []

    @daemon
    async def watcher(ctx: Context) -> None:
        seen.append(ctx.stopping)
        await ctx.stop_event.wait()

    sup = Supervisor(clock=SimClock())
    sup.add(watcher())
    sup.signal_stop()
    with anyio.fail_after(10):
        async with sup:
            assert sup.stop_event.is_set()
    assert seen == [True]


async def test_stop_before_entry_is_a_no_op() -> None:
    sup = Supervisor(clock=SimClock())
    await sup.stop()
    # stop() did not signal: a daemon started later does not see stopping
    seen: list[bool] = []

    @daemon
    async def probe(ctx: Context) -> None:
        seen.append(ctx.stopping)

    async with sup:
        sup.add(probe())
    assert seen == [False]
    await sup.stop()  # after exit: also a no-op


async def test_stop_waits_for_daemons_that_honour_stop_event() -> None:
    log: list[str] = []
    async with Supervisor(clock=WallClock()) as sup:
        sup.add(Scripted("a", log, run_for=None))
        sup.add(Scripted("b", log, run_for=None))
        await sup.wait_all_started()
        with anyio.fail_after(10):
            await sup.stop(grace=30.0)
        assert {h.state for h in sup.snapshot().values()} == {"stopped"}
    assert "a.cancelled" not in log
    assert "b.cancelled" not in log
    assert log.count("a.on_stop") == 1
    assert log.count("b.on_stop") == 1


async def test_stop_is_idempotent_and_concurrent_calls_wait() -> None:
    log: list[str] = []
    clock = SimClock()
    finished: list[int] = []
    async with Supervisor(clock=clock) as sup:
        sup.add(Scripted("a", log, run_for=None))
        await sup.wait_all_started()

        async def stopper(i: int) -> None:
            await sup.stop()
            assert sup.snapshot()["a"].state == "stopped"
            finished.append(i)

        async with anyio.create_task_group() as tg:
            tg.start_soon(stopper, 1)
            tg.start_soon(stopper, 2)
        await sup.stop()
        sup.signal_stop()
    assert sorted(finished) == [1, 2]
    assert log.count("a.on_stop") == 1


async def test_stop_grace_zero_cancels_with_shielded_on_stop() -> None:
    log: list[str] = []
    async with Supervisor(clock=WallClock()) as sup:
        sup.add(Scripted("stubborn", log, run_for=math.inf))
        await sup.wait_all_started()
        with anyio.fail_after(10):
            await sup.stop(grace=0)
    assert log == ["stubborn.on_start", "stubborn.run", "stubborn.cancelled", "stubborn.on_stop"]
    assert sup.snapshot()["stubborn"].state == "stopped"


async def test_finalize_timeout_abandons_a_hanging_on_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tickwork")
    log: list[str] = []
    # on_stop starts with a checkpoint: with finalize_timeout=0 it is abandoned there
    async with Supervisor(clock=WallClock()) as sup:
        sup.add(Scripted("hang", log, run_for=math.inf))
        await sup.wait_all_started()
        with anyio.fail_after(10):
            await sup.stop(grace=0, finalize_timeout=0)
    assert "hang.on_stop" not in log
    assert any("finalize_timeout" in r.getMessage() for r in caplog.records)


async def test_simclock_stop_waits_grace_in_virtual_time() -> None:
    """Under SimClock grace is virtual: stop() jumps the undriven clock to its end."""
    clock = SimClock()
    log: list[str] = []
    async with Supervisor(clock=clock) as sup:
        sup.add(Scripted("ignores_stop", log, run_for=math.inf))
        sup.add(Scripted("sleeps", log, run_for=10_000.0))
        sup.add(Scripted("polite", log, run_for=None))
        await sup.wait_all_started()
        with anyio.fail_after(10):  # grace is 1000 s: waiting it out would time out
            await sup.stop(grace=1000.0)
        snap = sup.snapshot()
        assert {h.state for h in snap.values()} == {"stopped"}
    assert "polite.cancelled" not in log
    assert "ignores_stop.cancelled" in log
    assert "sleeps.cancelled" in log
    for name in ("ignores_stop", "sleeps", "polite"):
        assert log.count(f"{name}.on_stop") == 1
    assert clock.now() == 1000.0  # grace ran out on the clock, not in real time


async def test_signal_stop_from_inside_a_daemon() -> None:
    clock = SimClock()
    log: list[str] = []

    @daemon
    async def boss(ctx: Context) -> None:
        await ctx.clock.sleep(3.0)
        ctx.supervisor.signal_stop()
        ctx.supervisor.signal_stop()

    async with Supervisor(clock=clock) as sup:
        sup.add(boss())
        sup.add(Scripted("w", log, run_for=None))
        await clock.advance(3.0)
    assert log == ["w.on_start", "w.run", "w.on_stop"]


async def test_stop_from_inside_a_daemon_while_the_clock_is_driven() -> None:
    clock = SimClock()
    log: list[str] = []
    returned: list[float] = []

    @daemon
    async def boss(ctx: Context) -> None:
        await ctx.clock.sleep(2.0)
        await ctx.supervisor.stop()  # the test task is inside clock.advance() now
        returned.append(ctx.clock.now())

    with anyio.fail_after(10):
        async with Supervisor(clock=clock) as sup:
            sup.add(boss())
            sup.add(Scripted("w", log, run_for=None))
            await clock.advance(5.0)
    assert returned == [2.0]
    assert log == ["w.on_start", "w.run", "w.on_stop"]
    assert {h.state for h in sup.snapshot().values()} == {"stopped"}


async def test_stop_from_inside_a_daemon_does_not_wait_for_itself() -> None:
    log: list[str] = []
    returned: list[bool] = []

    @daemon
    async def boss(ctx: Context) -> None:
        await ctx.supervisor.stop(grace=1000.0)  # waiting for itself would take 1000 s
        returned.append(ctx.stopping)

    with anyio.fail_after(10):
        async with Supervisor(clock=WallClock()) as sup:
            sup.add(Scripted("w", log, run_for=None))
            await sup.wait_all_started()
            sup.add(boss())
    assert returned == [True]
    assert log == ["w.on_start", "w.run", "w.on_stop"]


async def test_stop_bounds_an_on_stop_that_hangs_after_a_normal_return(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tickwork")
    reached: list[str] = []

    class HangingCleanup(Daemon):
        async def run(self, ctx: Context) -> None:
            await ctx.stop_event.wait()

        async def on_stop(self, ctx: Context) -> None:
            reached.append("on_stop")
            await anyio.Event().wait()

    async with Supervisor(clock=SimClock()) as sup:
        sup.add(HangingCleanup())
        await sup.wait_all_started()
        with anyio.fail_after(10):
            # run() returns at once; its on_stop then blocks for good
            await sup.stop(grace=1000.0, finalize_timeout=0)
    assert reached == ["on_stop"]
    assert sup.snapshot()["HangingCleanup"].state == "stopped"
    assert any("finalize_timeout" in r.getMessage() for r in caplog.records)


async def test_leaving_the_block_does_not_stop_daemons() -> None:
    clock = SimClock()
    log: list[str] = []
    done = anyio.Event()

    async def host() -> None:
        async with Supervisor(clock=clock) as sup:
            sup.add(Scripted("a", log, run_for=5.0))
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(host)
        await clock.advance(4.0)
        assert not done.is_set()
        assert "a.on_stop" not in log
        await clock.advance(1.0)
        assert done.is_set()
    assert log == ["a.on_start", "a.run", "a.on_stop"]


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf, "1", True])
async def test_stop_rejects_bad_bounds(bad: object) -> None:
    sup = Supervisor(clock=SimClock())
    with pytest.raises(ValueError, match="grace"):
        await sup.stop(grace=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finalize_timeout"):
        await sup.stop(finalize_timeout=bad)  # type: ignore[arg-type]


# -- wait_all_started --------------------------------------------------------------


class SlowStart(Daemon):
    def __init__(self, name: str, delay: float, *, fail: bool = False) -> None:
        self.name = name
        self.delay = delay
        self.fail = fail

    async def on_start(self, ctx: Context) -> None:
        await ctx.clock.sleep(self.delay)
        if self.fail:
            raise RuntimeError("start failed")

    async def run(self, ctx: Context) -> None:
        await ctx.stop_event.wait()


async def test_wait_all_started_waits_for_each_on_start_either_way() -> None:
    clock = SimClock()
    returned_at: list[float] = []
    async with Supervisor(clock=clock, on_error="ignore") as sup:
        sup.add(SlowStart("fast", 1.0))
        sup.add(SlowStart("fails", 2.0, fail=True))
        sup.add(SlowStart("slow", 3.0))

        async def waiter() -> None:
            await sup.wait_all_started()
            returned_at.append(clock.now())

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await clock.advance(2.0)
            assert returned_at == []
            # a daemon added after the call is not waited for
            sup.add(SlowStart("late", 100.0))
            await clock.advance(1.0)
            assert returned_at == [3.0]
        assert sup.snapshot()["late"].state == "starting"
        await clock.advance(100.0)
        await sup.wait_all_started()
        assert sup.snapshot()["late"].state == "running"
        sup.signal_stop()


async def test_wait_all_started_no_op_before_entry_and_after_exit() -> None:
    sup = Supervisor(clock=SimClock())
    sup.add(SlowStart("never", 1.0))
    with anyio.fail_after(10):
        await sup.wait_all_started()  # before entry: does not wait for the pending one
    sup2 = Supervisor(clock=SimClock())
    async with sup2:
        pass
    with anyio.fail_after(10):
        await sup2.wait_all_started()


async def test_wait_all_started_released_when_supervisor_fails() -> None:
    clock = SimClock()
    released: list[bool] = []
    sup = Supervisor(clock=clock)

    async def body() -> None:
        async with anyio.create_task_group() as tg, sup:
            sup.add(SlowStart("slow", 50.0))

            async def waiter() -> None:
                await sup.wait_all_started()
                released.append(True)

            tg.start_soon(waiter)
            sup.add(Scripted("bad", [], fail="run", run_for=1.0))
            await clock.advance(1.0)

    await raises_group(body)
    assert released == [True]


# -- snapshot / health -------------------------------------------------------------


def test_snapshot_before_entry_without_event_loop() -> None:
    sup = Supervisor(clock=SimClock())
    assert sup.snapshot() == {}
    sup.add(Scripted("a", []))
    assert sup.snapshot() == {
        "a": DaemonHealth(
            name="a",
            state="starting",
            restart_count=0,
            last_error=None,
            last_error_phase=None,
            started_at=None,
            uptime=None,
        )
    }
    assert Supervisor().snapshot() == {}  # the default WallClock works without a loop too


async def test_health_fields_through_a_lifetime() -> None:
    clock = SimClock(t0=100.0)

    class Life(Daemon):
        name = "life"

        async def on_start(self, ctx: Context) -> None:
            await ctx.clock.sleep(2.0)

        async def run(self, ctx: Context) -> None:
            await ctx.clock.sleep(10.0)

    async with Supervisor(clock=clock) as sup:
        sup.add(Life())
        await clock.advance(1.0)
        h = sup.snapshot()["life"]
        assert (h.state, h.started_at, h.uptime) == ("starting", None, None)
        await clock.advance(1.0)
        h = sup.snapshot()["life"]
        assert (h.state, h.started_at, h.uptime) == ("running", 102.0, 0.0)
        await clock.advance(4.0)
        h = sup.snapshot()["life"]
        assert (h.state, h.started_at, h.uptime, h.restart_count) == ("running", 102.0, 4.0, 0)
        with pytest.raises(AttributeError):
            h.state = "failed"  # type: ignore[misc]
        await clock.advance(6.0)
    h = sup.snapshot()["life"]
    assert (h.state, h.uptime, h.last_error, h.last_error_phase) == ("stopped", None, None, None)


async def test_finished_names_can_be_reused() -> None:
    clock = SimClock()
    log: list[str] = []
    async with Supervisor(clock=clock, on_error="ignore") as sup:
        sup.add(Scripted("x", log, fail="run", run_for=1.0))
        await clock.advance(1.0)
        assert sup.snapshot()["x"].state == "failed"
        sup.add(Scripted("x", log, run_for=1.0))
        assert sup.snapshot()["x"].state == "starting"
        await clock.advance(1.0)
    assert sup.snapshot()["x"].state == "stopped"
    assert sup.snapshot()["x"].last_error is None


# -- nesting -------------------------------------------------------------------------


async def test_nested_supervisor_with_its_own_clock() -> None:
    outer_clock = SimClock()
    inner_clock = SimClock(t0=1000.0)
    seen: list[tuple[str, float, float]] = []
    inner_log: list[str] = []

    @daemon
    async def leaf(ctx: Context) -> None:
        assert ctx.clock is inner_clock
        await ctx.clock.sleep(60.0)
        seen.append((ctx.name, ctx.clock.now(), outer_clock.now()))

    @daemon
    async def inner_host(ctx: Context) -> None:
        assert ctx.clock is outer_clock
        await ctx.clock.sleep(1.0)
        async with Supervisor(clock=inner_clock, on_error="ignore") as inner:
            inner.add(leaf())
            inner.add(Scripted("inner_bad", inner_log, fail="run", run_for=1.0))
        seen.append((ctx.name, inner_clock.now(), ctx.clock.now()))

    with anyio.fail_after(20):
        async with Supervisor(clock=outer_clock) as outer:
            outer.add(inner_host())
            await outer_clock.advance(1.0)
            assert outer.snapshot()["inner_host"].state == "running"
            # the clocks are independent: drive the inner one while the outer stands
            await inner_clock.advance(60.0)
            assert outer_clock.now() == 1.0
    assert seen == [("leaf", 1060.0, 1.0), ("inner_host", 1060.0, 1.0)]
    assert set(outer.snapshot()) == {"inner_host"}
    assert outer.snapshot()["inner_host"].state == "stopped"
    assert inner_log.count("inner_bad.on_stop") == 1


async def test_nested_supervisor_failure_is_the_hosts_failure() -> None:
    clock = SimClock()
    log: list[str] = []

    @daemon
    async def host(ctx: Context) -> None:
        async with Supervisor(clock=ctx.clock) as inner:
            inner.add(Scripted("deep", log, fail="run", run_for=2.0))

    async with Supervisor(clock=clock, on_error="ignore") as outer:
        outer.add(host())
        outer.add(Scripted("sibling", log, run_for=5.0))
        await clock.advance(5.0)
    h = outer.snapshot()["host"]
    assert h.state == "failed"
    assert h.last_error_phase == "run"
    assert isinstance(h.last_error, ExceptionGroup)
    [leaf] = leaves(h.last_error)
    assert isinstance(leaf, DaemonError)
    assert leaf.daemon == "deep"
    assert log.count("sibling.on_stop") == 1


# -- bad input ---------------------------------------------------------------------


@daemon
async def factory_fn(ctx: Context) -> None:
    pass


class Plain(Daemon):
    async def run(self, ctx: Context) -> None:
        pass


def test_add_rejects_non_daemons() -> None:
    sup = Supervisor(clock=SimClock())
    with pytest.raises(TypeError, match="Daemon"):
        sup.add(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="call it"):
        sup.add(factory_fn)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"instance.*Plain\(\)"):
        sup.add(Plain)  # type: ignore[arg-type]

    async def coro_fn(ctx: Context) -> None:
        pass

    with pytest.raises(TypeError, match="@daemon"):
        sup.add(coro_fn)  # type: ignore[arg-type]
    assert sup.snapshot() == {}


def test_spawn_rejects_bad_input() -> None:
    sup = Supervisor(clock=SimClock())
    with pytest.raises(TypeError, match="async function"):
        sup.spawn(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="factory"):
        sup.spawn(factory_fn)  # type: ignore[arg-type]


def test_duplicate_names_rejected_before_and_after_entry() -> None:
    sup = Supervisor(clock=SimClock())
    sup.add(Plain(), name="p")
    with pytest.raises(ValueError, match=r"'p'.*unique"):
        sup.add(Plain(), name="p")
    with pytest.raises(ValueError, match="non-empty"):
        sup.add(Plain(), name="")


async def test_duplicate_name_rejected_while_running() -> None:
    clock = SimClock()
    async with Supervisor(clock=clock) as sup:
        sup.add(Scripted("a", [], run_for=1.0))
        with pytest.raises(ValueError, match="'a'"):
            sup.add(Scripted("a", [], run_for=1.0))
        await clock.advance(1.0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"on_error": "explode"}, ValueError, "on_error"),
        ({"on_error": None}, ValueError, "on_error"),
        ({"restart": "fast"}, TypeError, "restart"),
        ({"clock": object()}, TypeError, "clock"),
    ],
)
def test_supervisor_rejects_bad_arguments(
    kwargs: dict[str, object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        Supervisor(**kwargs)  # type: ignore[arg-type]


async def test_enter_once_and_no_add_after_exit() -> None:
    sup = Supervisor(clock=SimClock())
    async with sup:
        pass
    with pytest.raises(RuntimeError, match="once"):
        async with sup:
            pass
    with pytest.raises(RuntimeError, match="exited"):
        sup.add(Plain())


# -- scale -------------------------------------------------------------------------


# The fast profile checks the mechanism at 2,000; the slow one at the 10,000 of the
# scale benchmark (bench/bench_daemons.py).
N_MANY = 2_000
N_MANY_SLOW = 10_000


@pytest.mark.parametrize(
    "n_many", [N_MANY, pytest.param(N_MANY_SLOW, marks=pytest.mark.slow)], ids=["2k", "10k"]
)
async def test_thousands_of_daemons_start_and_stop(n_many: int) -> None:
    clock = SimClock()
    counts = {"start": 0, "stop": 0, "run_returned": 0}
    registry = logging.Logger.manager.loggerDict
    before = len(registry)

    class Waiter(Daemon):
        async def on_start(self, ctx: Context) -> None:
            counts["start"] += 1

        async def run(self, ctx: Context) -> None:
            await ctx.stop_event.wait()
            counts["run_returned"] += 1

        async def on_stop(self, ctx: Context) -> None:
            counts["stop"] += 1

    with anyio.fail_after(50):
        async with Supervisor(clock=clock) as sup:
            for i in range(n_many):
                sup.add(Waiter(), name=f"session-{i}")
            await sup.wait_all_started()
            assert counts["start"] == n_many
            assert len(sup.snapshot()) == n_many
            assert {h.state for h in sup.snapshot().values()} == {"running"}
            await sup.stop()
    assert counts == {"start": n_many, "stop": n_many, "run_returned": n_many}
    assert len(registry) == before
    snap = sup.snapshot()
    assert 0 < len(snap) <= n_many
    assert {h.state for h in snap.values()} == {"stopped"}


async def test_many_spawned_one_shots_keep_bounded_history() -> None:
    """Finished daemons with per-session names do not pile up in snapshot()."""
    clock = SimClock()
    total = 1500

    async def one_shot(ctx: Context) -> None:
        pass

    async with Supervisor(clock=clock) as sup:
        for i in range(total):
            sup.spawn(one_shot, name=f"s{i}")
    snap = sup.snapshot()
    assert 0 < len(snap) < total  # trio finishes them in random order: no names
    assert {h.state for h in snap.values()} == {"stopped"}
