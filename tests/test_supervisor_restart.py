"""on_error="restart": backoff on the clock, jitter, reset_after, intensity limit, validation."""

from __future__ import annotations

import itertools
import math

import anyio
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


class Flaky(Daemon):
    """Fails in ``phase`` on each attempt; ``runs[i]`` is how long attempt i runs first.

    Records the clock time of every hook call as ``(hook, t)``.
    """

    def __init__(
        self,
        name: str = "flaky",
        *,
        phase: str = "run",
        runs: list[float] | None = None,
        succeed_after: int | None = None,
    ) -> None:
        self.name = name
        self.phase = phase
        self.runs = runs or []
        self.succeed_after = succeed_after
        self.attempt = -1
        self.calls: list[tuple[str, float]] = []

    def _failing(self) -> bool:
        return self.succeed_after is None or self.attempt < self.succeed_after

    async def on_start(self, ctx: Context) -> None:
        self.attempt += 1
        self.calls.append(("on_start", ctx.clock.now()))
        if self.phase == "on_start" and self._failing():
            raise ValueError(f"start {self.attempt}")

    async def run(self, ctx: Context) -> None:
        self.calls.append(("run", ctx.clock.now()))
        if self.attempt < len(self.runs):
            await ctx.clock.sleep(self.runs[self.attempt])
        if self._failing():
            raise ValueError(f"run {self.attempt}")
        await ctx.stop_event.wait()

    async def on_stop(self, ctx: Context) -> None:
        self.calls.append(("on_stop", ctx.clock.now()))

    def starts(self) -> list[float]:
        return [t for hook, t in self.calls if hook == "on_start"]


async def run_until_failure(
    policy: RestartPolicy, flaky: Flaky, horizon: float = 1000.0
) -> DaemonError:
    clock = SimClock()
    sup = Supervisor(clock=clock, on_error="restart", restart=policy)

    async def body() -> None:
        async with sup:
            sup.add(flaky)
            await clock.advance(horizon)

    with anyio.fail_after(20):
        group = await raises_group(body)
    [leaf] = leaves(group)
    assert isinstance(leaf, DaemonError)
    assert sup.snapshot()[flaky.name].state == "failed"
    return leaf


async def test_exact_backoff_delays_with_cap_and_max_retries() -> None:
    flaky = Flaky()
    policy = RestartPolicy(base=0.5, factor=2.0, cap=3.0, max_retries=5)
    err = await run_until_failure(policy, flaky)
    # delays 0.5, 1, 2, 3 (capped), 3
    assert flaky.starts() == [0.0, 0.5, 1.5, 3.5, 6.5, 9.5]
    assert str(err).startswith("daemon 'flaky' exceeded max_retries=5")
    assert isinstance(err.__cause__, ValueError)
    assert str(err.__cause__) == "run 5"
    # on_stop ran after every successful on_start, before each restart
    hooks = [hook for hook, _ in flaky.calls]
    assert hooks == ["on_start", "run", "on_stop"] * 6


async def test_default_policy_delays() -> None:
    flaky = Flaky()
    await run_until_failure(RestartPolicy(max_retries=8), flaky)
    starts = flaky.starts()
    delays = [round(b - a, 9) for a, b in itertools.pairwise(starts)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


async def test_max_retries_zero_fails_on_first_error() -> None:
    flaky = Flaky(phase="on_start")
    err = await run_until_failure(RestartPolicy(max_retries=0), flaky)
    assert "exceeded max_retries=0" in str(err)
    assert flaky.calls == [("on_start", 0.0)]  # on_start failed: no on_stop


async def test_on_start_failures_restart_without_on_stop() -> None:
    clock = SimClock()
    flaky = Flaky(phase="on_start", succeed_after=2)
    policy = RestartPolicy(base=1.0, factor=1.0, cap=1.0)
    async with Supervisor(clock=clock, on_error="restart", restart=policy) as sup:
        sup.add(flaky)
        await clock.run_until_idle()
        h = sup.snapshot()["flaky"]
        assert (h.state, h.restart_count, h.last_error_phase) == ("restarting", 1, "on_start")
        assert h.started_at is None
        assert str(h.last_error) == "start 0"
        await clock.advance(2.0)
        h = sup.snapshot()["flaky"]
        assert (h.state, h.restart_count, h.started_at) == ("running", 2, 2.0)
        sup.signal_stop()
    assert flaky.calls == [
        ("on_start", 0.0),
        ("on_start", 1.0),
        ("on_start", 2.0),
        ("run", 2.0),
        ("on_stop", 2.0),
    ]
    h = sup.snapshot()["flaky"]
    assert (h.state, h.restart_count) == ("stopped", 2)


async def test_stop_during_backoff_ends_restarting_daemon_at_once() -> None:
    clock = SimClock()
    flaky = Flaky()
    policy = RestartPolicy(base=100.0, cap=100.0)
    async with Supervisor(clock=clock, on_error="restart", restart=policy) as sup:
        sup.add(flaky)
        await clock.run_until_idle()
        assert sup.snapshot()["flaky"].state == "restarting"
        with anyio.fail_after(10):
            await sup.stop(grace=1000.0)
        h = sup.snapshot()["flaky"]
        assert (h.state, h.restart_count, h.last_error_phase) == ("stopped", 1, "run")
    assert clock.now() == 0.0
    assert flaky.starts() == [0.0]


async def test_failure_while_stopping_is_not_restarted_nor_counted() -> None:
    clock = SimClock()

    @daemon
    async def fails_on_stop(ctx: Context) -> None:
        await ctx.stop_event.wait()
        raise ValueError("while stopping")

    async with Supervisor(clock=clock, on_error="restart") as sup:
        sup.add(fails_on_stop())
        await sup.wait_all_started()
        with anyio.fail_after(10):
            await sup.stop()
    h = sup.snapshot()["fails_on_stop"]
    assert (h.state, h.restart_count, h.last_error_phase) == ("stopped", 0, "run")
    assert str(h.last_error) == "while stopping"


async def test_restart_exceeded_cancels_siblings_with_on_stop() -> None:
    clock = SimClock()
    calls: list[str] = []

    class Sibling(Daemon):
        async def run(self, ctx: Context) -> None:
            await anyio.Event().wait()

        async def on_stop(self, ctx: Context) -> None:
            calls.append("sibling on_stop")

    async def body() -> None:
        async with Supervisor(
            clock=clock, on_error="restart", restart=RestartPolicy(max_retries=1)
        ) as sup:
            sup.add(Sibling())
            sup.add(Flaky())
            await clock.advance(10.0)

    await raises_group(body)
    assert calls == ["sibling on_stop"]


async def test_normal_return_is_not_restarted() -> None:
    clock = SimClock()
    runs: list[float] = []

    @daemon
    async def once(ctx: Context) -> None:
        runs.append(ctx.clock.now())

    async with Supervisor(clock=clock, on_error="restart") as sup:
        sup.add(once())
        await clock.advance(10.0)
    assert runs == [0.0]
    assert sup.snapshot()["once"].state == "stopped"


# -- jitter --------------------------------------------------------------------------


async def jittered_starts(seed: int | None, name: str = "flaky") -> list[float]:
    flaky = Flaky(name)
    policy = RestartPolicy(base=1.0, factor=2.0, cap=6.0, max_retries=8, jitter=0.5, seed=seed)
    await run_until_failure(policy, flaky)
    return flaky.starts()


async def test_jitter_is_reproducible_with_a_seed_and_bounded() -> None:
    first = await jittered_starts(seed=7)
    again = await jittered_starts(seed=7)
    other = await jittered_starts(seed=8)
    other_name = await jittered_starts(seed=7, name="another")
    assert first == again
    assert first != other
    assert first != other_name
    for starts in (first, other, other_name):
        # SimClock time is whole nanoseconds: round away float subtraction noise
        delays = [round(b - a, 9) for a, b in itertools.pairwise(starts)]
        assert len(delays) == 8
        for n, d in enumerate(delays):
            nominal = min(1.0 * 2.0**n, 6.0)
            assert nominal * 0.5 - 1e-9 <= d <= min(nominal * 1.5, 6.0) + 1e-9
            assert d <= 6.0
    # jitter actually varies the delays
    assert [round(b - a, 9) for a, b in itertools.pairwise(first)] != [
        1.0,
        2.0,
        4.0,
        6.0,
        6.0,
        6.0,
        6.0,
        6.0,
    ]


def test_policy_delay_never_exceeds_cap() -> None:
    policy = RestartPolicy(base=1.0, factor=3.0, cap=10.0, jitter=0.9, seed=1)
    rng = policy.rng_for("x")
    delays = [policy.delay(n, rng) for n in range(200) for _ in range(5)]
    assert max(delays) <= 10.0
    assert min(delays) > 0.0
    assert policy.delay(10_000, rng) <= 10.0  # huge attempt numbers do not overflow


# -- reset_after ---------------------------------------------------------------------


async def test_reset_after_restarts_backoff_and_retry_count() -> None:
    flaky = Flaky(runs=[0.0, 0.0, 20.0, 0.0, 0.0])
    policy = RestartPolicy(base=1.0, factor=2.0, cap=100.0, max_retries=2, reset_after=10.0)
    err = await run_until_failure(policy, flaky)
    # fail@0 -> +1; fail@1 -> +2; ran 20 s, fail@23 -> reset -> +1; fail@24 -> +2; fail@26
    assert flaky.starts() == [0.0, 1.0, 3.0, 24.0, 26.0]
    assert "exceeded max_retries=2" in str(err)


async def test_without_reset_after_the_count_keeps_growing() -> None:
    flaky = Flaky(runs=[0.0, 0.0, 20.0, 0.0, 0.0])
    policy = RestartPolicy(base=1.0, factor=2.0, cap=100.0, max_retries=2)
    await run_until_failure(policy, flaky)
    assert flaky.starts() == [0.0, 1.0, 3.0]


async def test_short_run_below_reset_after_does_not_reset() -> None:
    flaky = Flaky(runs=[0.0, 0.0, 9.0])
    policy = RestartPolicy(base=1.0, factor=2.0, cap=100.0, max_retries=2, reset_after=10.0)
    await run_until_failure(policy, flaky)
    assert flaky.starts() == [0.0, 1.0, 3.0]


# -- intensity limit -----------------------------------------------------------------


async def test_max_restarts_within_period_fails_the_daemon() -> None:
    flaky = Flaky()
    policy = RestartPolicy(base=1.0, factor=1.0, cap=1.0, max_restarts=3, period=5.0)
    err = await run_until_failure(policy, flaky)
    assert flaky.starts() == [0.0, 1.0, 2.0, 3.0]
    assert str(err).startswith("daemon 'flaky' exceeded max_restarts=3 within period=5.0s")
    assert isinstance(err.__cause__, ValueError)


async def test_restarts_below_the_intensity_limit_go_on() -> None:
    clock = SimClock()
    flaky = Flaky()
    policy = RestartPolicy(base=1.0, factor=1.0, cap=1.0, max_restarts=3, period=2.5)
    async with Supervisor(clock=clock, on_error="restart", restart=policy) as sup:
        sup.add(flaky)
        await clock.advance(50.0)
        # one failure a second, 3 restarts allowed per 2.5 s: never trips
        h = sup.snapshot()["flaky"]
        assert (h.state, h.restart_count) == ("restarting", 51)
        sup.signal_stop()
    assert flaky.starts() == [float(t) for t in range(51)]


# -- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base": -1.0}, "base"),
        ({"base": math.nan}, "base"),
        ({"base": "1"}, "base"),
        ({"factor": 0.5}, "factor"),
        ({"cap": 0.01}, "cap"),
        ({"cap": math.inf}, "cap"),
        ({"jitter": 1.0}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_restarts": 0}, "max_restarts"),
        ({"max_restarts": "3"}, "max_restarts"),
        ({"period": 0}, "period"),
        ({"period": -1.0}, "period"),
        ({"period": math.inf}, "period"),
        ({"period": "5"}, "period"),
        ({"reset_after": 0}, "reset_after"),
        ({"reset_after": math.nan}, "reset_after"),
        ({"reset_after": "10"}, "reset_after"),
    ],
)
def test_restart_policy_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises((ValueError, TypeError), match=rf"RestartPolicy\.{field}\b"):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]


def test_restart_policy_is_frozen_and_valid_defaults() -> None:
    policy = RestartPolicy()
    assert (policy.base, policy.factor, policy.cap, policy.max_retries) == (0.1, 2.0, 5.0, None)
    assert (policy.jitter, policy.reset_after, policy.max_restarts, policy.period) == (
        0.0,
        None,
        None,
        5.0,
    )
    with pytest.raises(AttributeError):
        policy.base = 1.0  # type: ignore[misc]


async def test_daemon_cancelled_during_backoff_ends_stopped() -> None:
    clock = SimClock()
    flaky = Flaky("flaky", phase="on_start")

    class BadCleanup(Daemon):
        name = "bad_cleanup"

        async def run(self, ctx: Context) -> None:
            await ctx.clock.sleep(1.0)

        async def on_stop(self, ctx: Context) -> None:
            raise OSError("cleanup")

    policy = RestartPolicy(base=10.0, cap=10.0)
    sup = Supervisor(clock=clock, on_error="restart", restart=policy)

    async def body() -> None:
        async with sup:
            sup.add(flaky)
            sup.add(BadCleanup())
            await clock.run_until_idle()
            assert sup.snapshot()["flaky"].state == "restarting"
            await clock.advance(1.0)

    group = await raises_group(body)
    [leaf] = leaves(group)
    assert isinstance(leaf, DaemonError)
    assert leaf.daemon == "bad_cleanup"
    h = sup.snapshot()["flaky"]
    assert (h.state, h.restart_count, h.last_error_phase) == ("stopped", 1, "on_start")
