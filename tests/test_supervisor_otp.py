"""Supervisor: OTP strategies, per-daemon overrides, intensity, and the issue-9 repros."""

from __future__ import annotations

import logging
from typing import Any, cast

import anyio
import anyio.lowlevel
import pytest

from _groups import leaves, raises_group
from tickwork import (
    Context,
    Daemon,
    DaemonError,
    RestartPolicy,
    SimClock,
    Supervisor,
    daemon,
)

FAST = RestartPolicy(base=0.5, factor=1.0, cap=0.5)


class Member(Daemon):
    """Logs every hook; ``run`` fails at clock time ``fail_at`` (once), else waits for stop."""

    def __init__(self, name: str, log: list[str], fail_at: float | None = None) -> None:
        self.name = name
        self.log = log
        self.fail_at = fail_at

    async def on_start(self, ctx: Context) -> None:
        self.log.append(f"{self.name}.start")

    async def run(self, ctx: Context) -> None:
        if self.fail_at is not None and ctx.clock.now() < self.fail_at:
            await ctx.clock.wait_until(self.fail_at)
            raise ValueError(f"{self.name} boom")
        await ctx.stop_event.wait()

    async def on_stop(self, ctx: Context) -> None:
        await anyio.lowlevel.checkpoint()
        self.log.append(f"{self.name}.stop")


async def run_group(strategy: str, failing: str) -> tuple[list[str], Supervisor]:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock, on_error="restart", restart=FAST, strategy=strategy)  # type: ignore[arg-type]
    async with sup:
        for name in ("a", "b", "c", "d"):
            sup.add(Member(name, log, fail_at=1.0 if name == failing else None))
        await clock.advance(0.5)
        log.append("--")
        await clock.advance(2.0)
        log.append("--")
        await sup.stop()
    return log, sup


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("one_for_one", ["b.stop", "b.start"]),
        (
            "one_for_all",
            ["b.stop", "d.stop", "c.stop", "a.stop", "a.start", "b.start", "c.start", "d.start"],
        ),
        ("rest_for_one", ["b.stop", "d.stop", "c.stop", "b.start", "c.start", "d.start"]),
    ],
)
async def test_strategy_stops_in_reverse_and_restarts_in_add_order(
    strategy: str, expected: list[str]
) -> None:
    log, sup = await run_group(strategy, "b")
    first = log.index("--")
    second = log.index("--", first + 1)
    assert log[:first] == ["a.start", "b.start", "c.start", "d.start"]
    assert log[first + 1 : second] == expected
    restarted = {entry.split(".")[0] for entry in expected}
    counts = {name: h.restart_count for name, h in sup.snapshot().items()}
    assert counts == {n: (1 if n in restarted else 0) for n in "abcd"}
    # stop: every daemon returns on the stop event, on_stop once each
    assert sorted(log[second + 1 :]) == ["a.stop", "b.stop", "c.stop", "d.stop"]


DETERMINISM_RUNS = 50


async def test_group_restart_trace_is_the_same_every_run() -> None:
    """Start and group restart order are fixed; the final stop (daemons returning
    together on the stop event) is concurrent, so trio may order it differently."""
    traces = set()
    for _ in range(DETERMINISM_RUNS):
        log, _sup = await run_group("one_for_all", "c")
        end = log.index("--", log.index("--") + 1)
        traces.add(tuple(log[:end]))
    assert len(traces) == 1


async def test_per_daemon_overrides_beat_the_supervisor_policy() -> None:
    clock = SimClock()
    log: list[str] = []
    sup = Supervisor(clock=clock)  # shutdown by default
    async with sup:
        sup.add(Member("r", log, fail_at=1.0), on_error="restart", restart=FAST)
        sup.add(Member("i", log, fail_at=1.0), on_error="ignore")
        await clock.advance(3.0)
        snap = sup.snapshot()
        assert snap["r"].restart_count == 1
        assert snap["r"].state == "running"
        assert snap["i"].state == "failed"
        await sup.stop()


async def test_permanent_daemon_restarts_after_returning_until_stop() -> None:
    clock = SimClock()
    runs: list[float] = []

    async def tick(ctx: Context) -> None:
        runs.append(ctx.clock.now())
        await ctx.clock.sleep(1.0)

    sup = Supervisor(clock=clock, restart=FAST)
    async with sup:
        sup.spawn(tick, permanent=True)
        sup.spawn(tick, name="once")
        await clock.advance(4.0)
        await sup.stop()
    # permanent: 0, 1.5, 3.0 ... ; transient "once" ran only at 0
    assert runs == [0.0, 0.0, 1.5, 3.0]
    assert sup.snapshot()["tick"].restart_count == 3  # the one due at 4.5 never ran


@pytest.mark.parametrize("where", ["daemon", "supervisor"])
async def test_intensity_counts_a_restart_at_then_plus_period_inside(where: str) -> None:
    """OTP: a daemon failing exactly every period seconds exceeds max_restarts=1."""
    clock = SimClock()

    async def fail_each_second(ctx: Context) -> None:
        await ctx.clock.sleep(1.0)
        raise ValueError("tick")

    if where == "daemon":
        policy = RestartPolicy(base=0.0, cap=0.0, max_restarts=1, period=1.0)
        sup = Supervisor(clock=clock, on_error="restart", restart=policy)
    else:
        policy = RestartPolicy(base=0.0, cap=0.0)
        sup = Supervisor(
            clock=clock, on_error="restart", restart=policy, max_restarts=1, period=1.0
        )

    async def body() -> None:
        async with sup:
            sup.spawn(fail_each_second)
            await clock.advance(10.0)

    group = await raises_group(body)
    [leaf] = leaves(group)
    assert isinstance(leaf, DaemonError)
    assert "max_restarts=1" in str(leaf)
    if where == "supervisor":
        assert str(leaf).startswith("supervisor exceeded max_restarts=1 within period=1.0s")
    assert clock.now() == 2.0
    assert sup.snapshot()["fail_each_second"].state == "failed"


async def test_supervisor_intensity_escalates_to_the_parent_as_that_daemons_failure() -> None:
    clock = SimClock()
    attempts: list[str] = []

    async def flaky(ctx: Context) -> None:
        await ctx.clock.sleep(1.0)
        raise ValueError("flaky")

    async def nested(ctx: Context) -> None:
        attempts.append("nested")
        inner = Supervisor(
            clock=ctx.clock,
            on_error="restart",
            restart=RestartPolicy(base=0.0, cap=0.0),
            max_restarts=2,
            period=10.0,
        )
        async with inner:
            inner.spawn(flaky)

    parent = Supervisor(clock=clock)
    async with parent:
        parent.spawn(nested, on_error="ignore")
        await clock.advance(20.0)
    health = parent.snapshot()["nested"]
    assert attempts == ["nested"]
    assert health.state == "failed"
    assert isinstance(health.last_error, BaseExceptionGroup)
    [leaf] = leaves(health.last_error)
    assert isinstance(leaf, DaemonError)
    assert str(leaf).startswith("supervisor exceeded max_restarts=2 within period=10.0s")
    assert clock.now() == 20.0


# -- the issue's reproductions -------------------------------------------------------


async def test_a_cancelled_stop_leaves_the_supervisor_stoppable() -> None:
    clock = SimClock()
    cancelled: list[bool] = []

    async def stubborn(ctx: Context) -> None:
        try:
            await anyio.Event().wait()  # ignores the stop event
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async with Supervisor(clock=clock) as sup:
        sup.spawn(stubborn)
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await sup.stop(grace=0.2)
        assert sup.snapshot()["stubborn"].state == "running"
        await sup.stop(grace=0.2)
        assert cancelled == [True]
    assert sup.snapshot()["stubborn"].state == "stopped"


async def test_the_issue_repro_move_on_after_around_stop() -> None:
    """stop() cut short by clock.move_on_after(0.1): the next stop(grace=0.2) stops."""
    clock = SimClock()
    cancelled: list[float] = []

    async def stubborn(ctx: Context) -> None:
        try:
            await anyio.Event().wait()
        except anyio.get_cancelled_exc_class():
            cancelled.append(ctx.clock.now())
            raise

    async with Supervisor(clock=clock) as sup:
        sup.spawn(stubborn)
        async with clock.jump_when_idle():
            with clock.move_on_after(0.1):
                await sup.stop(grace=5.0)
        assert clock.now() == pytest.approx(0.1)
        assert cancelled == []
        await sup.stop(grace=0.2)
    assert cancelled == [pytest.approx(0.3)]
    assert sup.snapshot()["stubborn"].state == "stopped"


@pytest.mark.parametrize("how", ["signal_stop", "stop"])
async def test_add_and_spawn_after_a_stop_raise(how: str) -> None:
    async def job(ctx: Context) -> None:
        await ctx.stop_event.wait()

    async with Supervisor(clock=SimClock()) as sup:
        sup.spawn(job)
        if how == "stop":
            await sup.stop()
        else:
            sup.signal_stop()
        with pytest.raises(RuntimeError, match="supervisor is stopping"):
            sup.spawn(job, name="late")
        with pytest.raises(RuntimeError, match="supervisor is stopping"):
            sup.add(Member("late", []))
    assert "late" not in sup.snapshot()


def test_add_after_signal_stop_before_entry_raises() -> None:
    sup = Supervisor(clock=SimClock())
    sup.signal_stop()
    with pytest.raises(RuntimeError, match="supervisor is stopping"):
        sup.add(Member("x", []))


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
async def test_keyboard_interrupt_and_system_exit_fail_the_daemon_and_propagate_bare(
    fatal: type[BaseException],
) -> None:
    clock = SimClock()
    log: list[str] = []

    async def boom(ctx: Context) -> None:
        await ctx.clock.sleep(1.0)
        raise fatal()

    sup = Supervisor(clock=clock)

    async def body() -> None:
        async with sup:
            sup.add(Member("sib", log))
            sup.spawn(boom)
            await clock.advance(2.0)

    with pytest.raises(fatal):
        await body()
    assert log == ["sib.start", "sib.stop"]  # the sibling's on_stop ran first
    health = sup.snapshot()["boom"]
    assert health.state == "failed"
    assert isinstance(health.last_error, fatal)
    assert health.last_error_phase == "run"


def test_daemon_rejects_a_plain_def() -> None:
    def plain(ctx: Context) -> None:
        pass

    with pytest.raises(TypeError, match="async def"):
        daemon(plain)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async def"):
        daemon(name="x")(plain)  # type: ignore[arg-type]


def test_factory_arguments_are_checked_at_the_call() -> None:
    @daemon
    async def worker(ctx: Context, queue: str, *, limit: int = 1) -> None:
        pass

    worker("q", limit=2)
    with pytest.raises(TypeError, match="'worker' called with arguments that do not fit"):
        worker()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="worker"):
        worker("q", nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="worker"):
        worker("q", "extra")  # type: ignore[call-arg]

    @daemon
    async def plain(ctx: Context, a: int) -> None:
        pass

    plain(1)  # the exact-fit fast path
    with pytest.raises(TypeError, match="'plain' called with arguments"):
        plain()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'plain' called with arguments"):
        plain(1, 2)  # type: ignore[call-arg]

    async def no_ctx() -> None:
        pass

    factory = daemon(cast("Any", no_ctx))
    with pytest.raises(TypeError, match="ctx is passed for you"):
        factory()


def test_bad_overrides_and_strategy_are_rejected() -> None:
    with pytest.raises(ValueError, match="strategy"):
        Supervisor(strategy="one_for_some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_restarts"):
        Supervisor(max_restarts=0)
    with pytest.raises(ValueError, match="period"):
        Supervisor(max_restarts=1, period=0)
    sup = Supervisor()
    with pytest.raises(ValueError, match="on_error"):
        sup.add(Member("x", []), on_error="sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="restart"):
        sup.add(Member("x", []), restart=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="permanent"):
        sup.add(Member("x", []), permanent="yes")  # type: ignore[arg-type]


async def test_lifecycle_events_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimClock()

    async def stubborn(ctx: Context) -> None:
        await anyio.Event().wait()

    caplog.set_level(logging.INFO, logger="tickwork")
    async with Supervisor(clock=clock, on_error="restart", restart=FAST) as sup:
        sup.add(Member("flaky", [], fail_at=1.0))
        sup.spawn(stubborn)
        await clock.advance(1.0)
        await sup.stop(grace=0.1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("restart 1 in 0.500s" in m for m in messages), messages
    assert any(
        "grace=0.1s ran out; cancelling 1 daemons (in reverse add order): stubborn" in m
        for m in messages
    ), messages
    for record in caplog.records:
        assert isinstance(record.__dict__["daemon"], str)
        assert isinstance(record.__dict__["sim_time"], float)


async def test_a_waiting_stop_takes_over_when_the_leading_stop_is_cancelled() -> None:
    clock = SimClock()
    ended: list[float] = []

    async def stubborn(ctx: Context) -> None:
        try:
            await anyio.Event().wait()
        finally:
            ended.append(ctx.clock.now())

    async with Supervisor(clock=clock) as sup:
        sup.spawn(stubborn)
        async with anyio.create_task_group() as tg:
            leading = anyio.Event()

            async def leader() -> None:
                with clock.move_on_after(0.1):
                    leading.set()  # this task runs on into stop() before it yields
                    await sup.stop(grace=5.0)

            tg.start_soon(leader)
            await leading.wait()
            async with clock.jump_when_idle():
                await sup.stop(grace=0.2)  # waits on the leader, then leads itself
    assert ended == [pytest.approx(0.3)]
