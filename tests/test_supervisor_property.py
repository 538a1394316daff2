"""Property test: random daemons failing at random points, under each policy, on SimClock.

Each example builds 1-4 daemons from random per-attempt plans (on_start may sleep and
fail; run may return, fail, wait for the stop event or block forever; on_stop may
fail), runs them under one policy, drives the clock to a horizon, calls ``stop()`` and
checks what the supervisor promised:

* ``on_stop`` runs exactly once after each successful ``on_start``, never after a
  failed (or cancelled) one;
* the whole run finishes within a generous wall-clock bound (never hangs);
* ``snapshot()`` agrees with what the daemons saw: final state, ``restart_count``,
  ``last_error`` (the very object last raised) and ``last_error_phase``;
* under "shutdown" the escaping ``DaemonError`` names a daemon that failed first.

The default run is small; ``-m slow`` runs the 10,000-case profile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _groups import leaves
from tickwork import Context, Daemon, DaemonError, RestartPolicy, SimClock, Supervisor

RunKind = Literal["return", "fail", "wait_stop", "forever"]
Policy = Literal["shutdown", "restart", "ignore"]
TIMES = (0.0, 0.5, 1.0, 2.0, 3.5)


@dataclass(frozen=True)
class Attempt:
    """What one on_start/run/on_stop cycle does. ``0.0`` delays mean no await at all."""

    start_delay: float
    start_fails: bool
    run_kind: RunKind
    run_time: float
    stop_fails: bool


@dataclass(frozen=True)
class Scenario:
    policy: Policy
    plans: tuple[tuple[Attempt, ...], ...]
    horizon: float
    restart: RestartPolicy


class HookError(Exception):
    pass


class ScenarioDaemon(Daemon):
    """Follows its plan (cycled by attempt) and logs what each hook did."""

    def __init__(self, name: str, plan: tuple[Attempt, ...]) -> None:
        self.name = name
        self.plan = plan
        self.log: list[str] = []
        self.last_raised: HookError | None = None
        self.last_phase: str | None = None
        self.attempt = -1

    @property
    def current(self) -> Attempt:
        return self.plan[self.attempt % len(self.plan)]

    def _raise(self, phase: str) -> None:
        exc = HookError(f"{self.name} attempt {self.attempt} {phase}")
        self.last_raised, self.last_phase = exc, phase
        self.log.append(f"fail:{phase}")
        raise exc

    async def on_start(self, ctx: Context) -> None:
        self.attempt += 1
        self.log.append("start")
        step = self.current
        if step.start_delay:
            await ctx.clock.sleep(step.start_delay)
        if step.start_fails:
            self._raise("on_start")
        self.log.append("started")

    async def run(self, ctx: Context) -> None:
        self.log.append("run")
        step = self.current
        if step.run_kind == "wait_stop":
            await ctx.stop_event.wait()
        elif step.run_kind == "forever":
            await anyio.Event().wait()
        elif step.run_time:
            await ctx.clock.sleep(step.run_time)
        if step.run_kind == "fail":
            self._raise("run")

    async def on_stop(self, ctx: Context) -> None:
        self.log.append("stop")
        await anyio.lowlevel.checkpoint()
        if self.current.stop_fails:
            self._raise("on_stop")


attempts = st.builds(
    Attempt,
    start_delay=st.sampled_from(TIMES),
    start_fails=st.booleans(),
    run_kind=st.sampled_from(("return", "fail", "wait_stop", "forever")),
    run_time=st.sampled_from(TIMES),
    stop_fails=st.booleans(),
)

restart_policies = st.builds(
    RestartPolicy,
    base=st.sampled_from((0.5, 1.0)),
    factor=st.sampled_from((1.0, 2.0)),
    cap=st.just(4.0),
    max_retries=st.sampled_from((None, 0, 1, 3)),
    jitter=st.sampled_from((0.0, 0.2)),
    seed=st.just(1),
    reset_after=st.sampled_from((None, 2.0)),
    max_restarts=st.sampled_from((None, 1, 3)),
    period=st.sampled_from((2.0, 10.0)),
)

scenarios = st.builds(
    Scenario,
    policy=st.sampled_from(("shutdown", "restart", "ignore")),
    plans=st.lists(
        st.lists(attempts, min_size=1, max_size=3).map(tuple), min_size=1, max_size=4
    ).map(tuple),
    horizon=st.sampled_from((0.0, 1.0, 5.0, 20.0)),
    restart=restart_policies,
)


AFTER = 1e-6
"""Orders "at the stop, after everything due at the horizon" (times are multiples of 0.5)."""
GRACE = 1000.0


def shutdown_failure_time(step: Attempt, horizon: float) -> float:
    """When a single-attempt daemon first raises under "shutdown" (inf: never).

    stop() comes at ``horizon`` with a virtual ``GRACE`` longer than any plan, so every
    hook that sleeps finishes: only a run that blocks forever is cancelled, at the end
    of grace.
    """
    if step.start_fails:
        return step.start_delay
    end = step.start_delay + step.run_time
    if step.run_kind == "fail":
        return end
    if step.run_kind == "return":
        return end if step.stop_fails else math.inf
    if not step.stop_fails:
        return math.inf
    if step.run_kind == "wait_stop":
        # Returns at the stop, or at once if on_start ends after it; on_stop then fails.
        return step.start_delay if step.start_delay > horizon else horizon + AFTER
    # "forever": stop() cancels it when grace runs out; its on_stop runs on the normal
    # path (its own scope was cancelled), so the failure is reported.
    return horizon + GRACE


def segments(log: list[str]) -> list[list[str]]:
    """The log split into attempts, each starting at "start"."""
    found: list[list[str]] = []
    for event in log:
        if event == "start":
            found.append([])
        found[-1].append(event)
    return found


async def check_scenario(scenario: Scenario) -> None:
    clock = SimClock()
    daemons = [ScenarioDaemon(f"d{i}", plan) for i, plan in enumerate(scenario.plans)]
    escaped: BaseException | None = None
    sup = Supervisor(clock=clock, on_error=scenario.policy, restart=scenario.restart)
    with anyio.fail_after(30):  # wall clock: the supervisor must never hang
        try:
            async with sup:
                for d in daemons:
                    sup.add(d)
                await clock.advance(scenario.horizon)
                await sup.stop(grace=GRACE)
        except ExceptionGroup as group:
            escaped = group
    snap = sup.snapshot()
    errors = leaves(escaped) if escaped is not None else []
    assert all(isinstance(e, DaemonError) for e in errors), errors
    failed_names = {e.daemon for e in errors if isinstance(e, DaemonError)}

    for d in daemons:
        parts = segments(d.log)
        assert parts, d.log  # every daemon got at least one on_start
        for part in parts:
            if "started" in part:
                assert part.count("stop") == 1, d.log
                assert "run" in part, d.log
            else:
                assert "stop" not in part, d.log
                assert "run" not in part, d.log
        health = snap[d.name]
        assert health.name == d.name
        assert health.uptime is None
        assert health.last_error is d.last_raised
        assert health.last_error_phase == d.last_phase
        assert health.state in ("stopped", "failed")
        last = parts[-1]
        hook_failed = "fail:on_start" in last or "fail:run" in last
        if scenario.policy == "restart":
            assert (health.state == "failed") == (d.name in failed_names), (health, d.log)
        elif hook_failed or d.name in failed_names:
            # on_start/run raised (reported, or overtaken by a sibling's failure)
            assert health.state == "failed", (health, d.log)
        elif "fail:on_stop" not in last:
            assert health.state == "stopped", (health, d.log)
        elif scenario.policy == "shutdown":
            # on_stop raised while cancelled by a sibling's failure: logged only
            assert health.state == "stopped", (health, d.log)
        if scenario.policy == "restart":
            # counted on entering "restarting"; a stop may end the last backoff early
            assert health.restart_count in (len(parts) - 1, len(parts)), (health, d.log)
        else:
            assert len(parts) == 1, d.log
            assert health.restart_count == 0

    if scenario.policy == "ignore":
        assert escaped is None
    elif scenario.policy == "shutdown":
        times = {d.name: shutdown_failure_time(d.plan[0], scenario.horizon) for d in daemons}
        first = min(times.values())
        if math.isinf(first):
            assert escaped is None, escaped
        else:
            assert errors, f"expected a failure at t={first}: {times}"
            for e in errors:
                assert isinstance(e, DaemonError)
                assert times[e.daemon] == first, (e, times)
                what = (
                    "cleanup failed" if snap[e.daemon].last_error_phase == "on_stop" else "failed"
                )
                assert str(e).startswith(f"daemon '{e.daemon}' {what}: "), e
                assert e.__cause__ is snap[e.daemon].last_error
    else:
        for e in errors:
            assert isinstance(e, DaemonError)
            assert isinstance(e.__cause__, HookError)
            assert e.__cause__ is snap[e.daemon].last_error
            message = str(e)
            prefix = f"daemon '{e.daemon}' "
            assert message.startswith(
                (
                    prefix + "cleanup failed: ",
                    prefix + "exceeded max_retries=",
                    prefix + "exceeded max_restarts=",
                )
            ), message


_BASE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(_BASE, max_examples=60)
@given(scenario=scenarios)
async def test_supervisor_properties(scenario: Scenario) -> None:
    await check_scenario(scenario)


@pytest.mark.slow
@settings(_BASE, max_examples=10_000)
@given(scenario=scenarios)
async def test_supervisor_properties_long(scenario: Scenario) -> None:
    """The dedicated profile: 10,000 cases on each backend."""
    await check_scenario(scenario)
