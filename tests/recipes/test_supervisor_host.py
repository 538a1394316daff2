"""tickwork.recipes.supervisor_host.SupervisorHost: a supervisor in the caller's task group."""

from __future__ import annotations

import anyio
import pytest

from tickwork import Context, Daemon, DaemonError, SimClock, Supervisor, daemon
from tickwork.recipes.supervisor_host import SupervisorHost


class Worker(Daemon):
    def __init__(self, name: str, *, start_delay: float = 0.0, fail_start: bool = False) -> None:
        self.name = name
        self.start_delay = start_delay
        self.fail_start = fail_start
        self.events: list[str] = []

    async def on_start(self, ctx: Context) -> None:
        await ctx.clock.sleep(self.start_delay)
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.events.append("started")

    async def run(self, ctx: Context) -> None:
        await ctx.stop_event.wait()
        self.events.append("ran")

    async def on_stop(self, ctx: Context) -> None:
        self.events.append("stopped")


async def test_start_returns_after_every_on_start_and_stop_runs_the_hooks(
    sim_clock: SimClock,
) -> None:
    slow, quick = Worker("slow", start_delay=2.0), Worker("quick")
    sup = Supervisor(clock=sim_clock)
    sup.add(slow)
    sup.add(quick)
    calls: list[str] = []
    host = SupervisorHost(sup, on_stopping=lambda: calls.append("on_stopping"))
    started_at: list[float] = []

    async with anyio.create_task_group() as tg:

        async def drive() -> None:
            await sim_clock.advance(2.0)

        tg.start_soon(drive)
        await host.start(tg)
        started_at.append(sim_clock.now())
        assert slow.events == quick.events == ["started"]
        assert {h.state for h in host.snapshot().values()} == {"running"}
        await host.stop()
        assert calls == ["on_stopping"]
        assert slow.events == quick.events == ["started", "ran", "stopped"]
        assert {h.state for h in host.snapshot().values()} == {"stopped"}
        await host.stop()  # idempotent
    assert started_at == [2.0]


async def test_an_async_on_stopping_runs_before_the_daemons_are_stopped(
    sim_clock: SimClock,
) -> None:
    worker = Worker("w")
    sup = Supervisor(clock=sim_clock)
    sup.add(worker)
    seen: list[list[str]] = []

    async def on_stopping() -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(list(worker.events))

    host = SupervisorHost(sup, on_stopping=on_stopping)
    async with anyio.create_task_group() as tg:
        await host.start(tg)
        await host.stop(grace=1.0, finalize_timeout=1.0)
    assert seen == [["started"]]
    assert worker.events == ["started", "ran", "stopped"]


async def test_a_startup_failure_is_raised_from_start_and_spares_the_task_group(
    sim_clock: SimClock,
) -> None:
    sup = Supervisor(clock=sim_clock)
    sup.add(Worker("ok"))
    sup.add(Worker("broken", fail_start=True))
    host = SupervisorHost(sup)
    survivor = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(survivor.wait)
        with pytest.RaisesGroup(
            pytest.RaisesExc(DaemonError, match="'broken' failed"), flatten_subgroups=True
        ):
            await host.start(tg)
        survivor.set()  # the caller's task group is still alive
    await host.stop()  # after a failed start: returns at once


async def test_a_startup_failure_under_ignore_is_raised_as_a_daemon_error(
    sim_clock: SimClock,
) -> None:
    ok = Worker("ok")
    sup = Supervisor(clock=sim_clock, on_error="ignore")
    sup.add(ok)
    sup.add(Worker("broken", fail_start=True))
    host = SupervisorHost(sup)
    async with anyio.create_task_group() as tg:
        with pytest.raises(DaemonError, match="'broken' failed in on_start") as info:
            await host.start(tg)
        assert isinstance(info.value.__cause__, RuntimeError)
    assert ok.events == ["started", "ran", "stopped"]


async def test_stop_before_start_is_a_no_op_and_start_twice_is_an_error(
    sim_clock: SimClock,
) -> None:
    host = SupervisorHost(Supervisor(clock=sim_clock))
    await host.stop()
    async with anyio.create_task_group() as tg:
        await host.start(tg)
        with pytest.raises(RuntimeError, match="already started"):
            await host.start(tg)
        await host.stop()


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="default_grace"):
        SupervisorHost(Supervisor(), default_grace=-1)
    with pytest.raises(ValueError, match="default_finalize_timeout"):
        SupervisorHost(Supervisor(), default_finalize_timeout=-1)
    with pytest.raises(TypeError, match="Supervisor"):
        SupervisorHost(object())  # type: ignore[arg-type]
    host = SupervisorHost(Supervisor())
    with pytest.raises(ValueError, match="grace"):
        await host.stop(grace=-1)
    with pytest.raises(ValueError, match="finalize_timeout"):
        await host.stop(finalize_timeout=float("nan"))


async def test_a_failure_after_start_propagates_into_the_task_group(sim_clock: SimClock) -> None:
    @daemon
    async def crashes_later(ctx: Context) -> None:
        await ctx.clock.sleep(1.0)
        raise RuntimeError("lost the device")

    sup = Supervisor(clock=sim_clock)
    sup.add(crashes_later())
    host = SupervisorHost(sup)
    with pytest.RaisesGroup(
        pytest.RaisesExc(DaemonError, match="lost the device"), flatten_subgroups=True
    ):
        async with anyio.create_task_group() as tg:
            await host.start(tg)
            await sim_clock.advance(1.0)
    await host.stop()  # already over: returns at once
    assert host.snapshot()["crashes_later"].state == "failed"
