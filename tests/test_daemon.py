"""Daemon hooks, the @daemon decorator and the Context each hook receives."""

from __future__ import annotations

import logging

import anyio
import pytest

import tickwork
from tickwork import Context, Daemon, DaemonFactory, SimClock, Supervisor, daemon


class Recorder(Daemon):
    """Records every hook call, with the clock time and the context it got."""

    def __init__(self, name: str = "") -> None:
        if name:
            self.name = name
        self.calls: list[str] = []
        self.contexts: list[Context] = []

    async def on_start(self, ctx: Context) -> None:
        self.calls.append("on_start")
        self.contexts.append(ctx)

    async def run(self, ctx: Context) -> None:
        self.calls.append("run")
        self.contexts.append(ctx)
        await ctx.clock.sleep(1.0)

    async def on_stop(self, ctx: Context) -> None:
        self.calls.append("on_stop")
        self.contexts.append(ctx)


class OnlyRun(Daemon):
    def __init__(self) -> None:
        self.ran = 0

    async def run(self, ctx: Context) -> None:
        self.ran += 1


# -- hooks -------------------------------------------------------------------------


async def test_hooks_run_once_each_in_order_with_one_context() -> None:
    clock = SimClock()
    rec = Recorder("rec")
    async with Supervisor(clock=clock) as sup:
        sup.add(rec)
        await clock.run_until_idle()
        assert rec.calls == ["on_start", "run"]
        await clock.advance(1.0)
        assert rec.calls == ["on_start", "run", "on_stop"]
    assert rec.calls == ["on_start", "run", "on_stop"]
    assert len({id(c) for c in rec.contexts}) == 1


async def test_default_on_start_and_on_stop_are_no_ops() -> None:
    d = OnlyRun()
    async with Supervisor(clock=SimClock()) as sup:
        sup.add(d)
    assert d.ran == 1
    assert sup.snapshot()["OnlyRun"].state == "stopped"


def test_daemon_is_abstract() -> None:
    with pytest.raises(TypeError):
        Daemon()  # type: ignore[abstract]


# -- @daemon -----------------------------------------------------------------------


async def test_daemon_decorator_bare_binds_arguments_and_names_after_function() -> None:
    seen: list[tuple[str, int, str]] = []

    @daemon
    async def worker(ctx: Context, n: int, *, tag: str) -> None:
        seen.append((ctx.name, n, tag))

    assert isinstance(worker, DaemonFactory)
    assert worker.__name__ == "worker"
    made = worker(3, tag="x")
    assert isinstance(made, Daemon)
    assert made.name == "worker"
    async with Supervisor(clock=SimClock()) as sup:
        assert sup.add(made) == "worker"
    assert seen == [("worker", 3, "x")]


async def test_daemon_decorator_with_name() -> None:
    seen: list[str] = []

    @daemon(name="custom")
    async def worker(ctx: Context) -> None:
        seen.append(ctx.name)

    assert worker.name == "custom"
    assert worker().name == "custom"
    async with Supervisor(clock=SimClock()) as sup:
        sup.add(worker())
        sup.add(worker(), name="other")
    assert sorted(seen) == ["custom", "other"]


async def test_each_factory_call_is_a_fresh_daemon() -> None:
    @daemon
    async def worker(ctx: Context) -> None:
        pass

    assert worker() is not worker()


def test_daemon_decorator_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="name"):
        daemon(name=3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="async function"):
        daemon(name="x")(42)  # type: ignore[arg-type]


async def test_spawn_runs_a_function_with_arguments() -> None:
    seen: list[tuple[str, int, int]] = []

    async def job(ctx: Context, a: int, b: int = 0) -> None:
        seen.append((ctx.name, a, b))

    async with Supervisor(clock=SimClock()) as sup:
        assert sup.spawn(job, 1, b=2) == "job"
        assert sup.spawn(job, 5, name="job2") == "job2"
    assert sorted(seen) == [("job", 1, 2), ("job2", 5, 0)]


async def test_name_resolution_order() -> None:
    class Named(OnlyRun):
        name = "from-attr"

    async with Supervisor(clock=SimClock()) as sup:
        assert sup.add(OnlyRun()) == "OnlyRun"
        assert sup.add(Named()) == "from-attr"
        assert sup.add(Named(), name="explicit") == "explicit"


# -- Context -----------------------------------------------------------------------


async def test_context_fields() -> None:
    clock = SimClock(t0=5.0)
    parent = logging.getLogger("test_daemon.ctx_fields")
    rec = Recorder("fields")
    async with Supervisor(clock=clock, logger=parent) as sup:
        sup.add(rec)
        await sup.wait_all_started()
        ctx = rec.contexts[0]
        assert ctx.clock is clock
        assert ctx.supervisor is sup
        assert ctx.name == "fields"
        assert ctx.stop_event is sup.stop_event
        assert not ctx.stopping
        assert isinstance(ctx.logger, tickwork.ClockAwareLoggerAdapter)
        assert ctx.logger.logger.name == "test_daemon.ctx_fields.fields"
        assert isinstance(ctx.cancel_scope, anyio.CancelScope)
        sup.signal_stop()
        assert ctx.stopping
        await clock.advance(1.0)


async def test_context_is_frozen() -> None:
    rec = Recorder("frozen")
    async with Supervisor(clock=SimClock()) as sup:
        sup.add(rec)
        await sup.wait_all_started()
        with pytest.raises(AttributeError):
            rec.contexts[0].name = "other"  # type: ignore[misc]
        sup.signal_stop()
        await sup.stop()


async def test_cancel_scope_is_the_daemons_own() -> None:
    clock = SimClock()
    events: list[str] = []

    class SelfCancel(Daemon):
        name = "selfcancel"

        async def run(self, ctx: Context) -> None:
            await ctx.clock.sleep(1.0)
            ctx.cancel_scope.cancel()
            await ctx.clock.sleep(100.0)
            events.append("not reached")

        async def on_stop(self, ctx: Context) -> None:
            events.append("selfcancel on_stop")

    class Sibling(Daemon):
        name = "sibling"

        async def run(self, ctx: Context) -> None:
            await ctx.clock.sleep(5.0)
            events.append(f"sibling done at {ctx.clock.now()}")

    async with Supervisor(clock=clock) as sup:
        sup.add(SelfCancel())
        sup.add(Sibling())
        await clock.advance(1.0)
        assert events == ["selfcancel on_stop"]
        snap = sup.snapshot()
        assert snap["selfcancel"].state == "stopped"
        assert snap["selfcancel"].last_error is None
        assert snap["sibling"].state == "running"
        await clock.advance(4.0)
    assert events == ["selfcancel on_stop", "sibling done at 5.0"]


async def test_cancel_scope_in_on_start_skips_run_and_on_stop() -> None:
    events: list[str] = []

    class Abort(Daemon):
        async def on_start(self, ctx: Context) -> None:
            ctx.cancel_scope.cancel()
            await anyio.lowlevel.checkpoint()

        async def run(self, ctx: Context) -> None:
            events.append("run")

        async def on_stop(self, ctx: Context) -> None:
            events.append("on_stop")

    async with Supervisor(clock=SimClock()) as sup:
        sup.add(Abort())
    assert events == []
    assert sup.snapshot()["Abort"].state == "stopped"
