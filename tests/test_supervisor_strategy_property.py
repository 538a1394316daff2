"""Property test: OTP strategies and per-daemon policies against an exact model, on SimClock.

Each example builds 1-5 daemons that fail at distinct whole clock seconds (or never),
each with an optional per-daemon ``on_error`` and intensity limit, under a random
strategy and supervisor-wide intensity. The restart delay (0.25 s) is shorter than the
gap between failures, so a model can replay the run and predict the global log exactly:

* ``on_stop`` runs exactly once after each successful ``on_start``;
* a restart stops the strategy's set in reverse add order, then starts it in add order;
* the per-daemon and supervisor-wide intensity rules (``now <= then + period`` inside)
  fail the supervisor exactly when the model says, with the promised message;
* the run never hangs (a wall-clock bound), and ``snapshot()`` matches the model.

The default run is small; ``-m slow`` runs the 10,000-case profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _groups import leaves
from tickwork import Context, Daemon, DaemonError, OnError, RestartPolicy, SimClock, Supervisor

DELAY = 0.25
HORIZON = 12.0
WALL_BOUND = 30.0  # seconds of real time a single example may take: a hang fails it
Event = tuple[str, str]


@dataclass(frozen=True)
class Spec:
    fail_at: tuple[int, ...]
    on_error: OnError | None
    max_restarts: int | None


@dataclass(frozen=True)
class Scenario:
    strategy: str
    specs: tuple[Spec, ...]
    max_restarts: int | None
    period: float


class Boom(Exception):
    pass


class Member(Daemon):
    def __init__(self, name: str, fail_at: tuple[int, ...], log: list[Event]) -> None:
        self.name = name
        self.fail_at = fail_at
        self.log = log

    async def on_start(self, ctx: Context) -> None:
        self.log.append((self.name, "start"))

    async def run(self, ctx: Context) -> None:
        now = ctx.clock.now()
        due = [t for t in self.fail_at if t > now]
        if not due:
            await ctx.stop_event.wait()
            return
        await ctx.clock.wait_until(due[0])  # every failure is due before the stop
        raise Boom(f"{self.name} at {due[0]}")

    async def on_stop(self, ctx: Context) -> None:
        await anyio.lowlevel.checkpoint()
        self.log.append((self.name, "stop"))


@dataclass
class Model:
    """The expected global log and final health of a scenario."""

    log: list[Event] = field(default_factory=list[Event])
    tail: set[Event] = field(default_factory=set[Event])  # order-free (concurrent) stops
    restarts: dict[str, int] = field(default_factory=dict[str, int])
    state: dict[str, str] = field(default_factory=dict[str, str])
    error: str | None = None  # the escaping DaemonError's message prefix


def inside(times: list[float], now: float, period: float) -> int:
    return sum(1 for then in times if now <= then + period)


def model(scenario: Scenario) -> Model:
    names = [f"d{i}" for i in range(len(scenario.specs))]
    specs = dict(zip(names, scenario.specs, strict=True))
    m = Model()
    m.restarts = dict.fromkeys(names, 0)
    live = list(names)  # add order
    m.log = [(n, "start") for n in names]
    own: dict[str, list[float]] = {n: [] for n in names}
    everyone: list[float] = []
    events = sorted((t, n) for n in names for t in specs[n].fail_at)
    for t, name in events:
        if name not in live:
            continue
        spec = specs[name]
        m.log.append((name, "stop"))
        policy = spec.on_error or "restart"
        if policy == "ignore":
            live.remove(name)
            m.state[name] = "failed"
            continue
        limit = spec.max_restarts
        if limit is not None and inside(own[name], t, 10.0) >= limit:
            m.error = f"daemon '{name}' exceeded max_restarts={limit} within period=10.0s"
        elif (
            scenario.max_restarts is not None
            and inside(everyone, t, scenario.period) >= scenario.max_restarts
        ):
            m.error = f"supervisor exceeded max_restarts={scenario.max_restarts}"
        if m.error is not None:
            m.state[name] = "failed"
            live.remove(name)
            m.tail = {(n, "stop") for n in live}
            for n in live:
                m.state[n] = "stopped"
            return m
        own[name].append(t)
        everyone.append(t)
        index = live.index(name)
        if scenario.strategy == "one_for_one":
            group: list[str] = []
        elif scenario.strategy == "one_for_all":
            group = [n for n in live if n != name]
        else:
            group = live[index + 1 :]
        m.log.extend((n, "stop") for n in reversed(group))
        members = sorted([name, *group], key=names.index)
        m.log.extend((n, "start") for n in members)
        for n in members:
            m.restarts[n] += 1
    m.tail = {(n, "stop") for n in live}
    for n in live:
        m.state[n] = "stopped"
    return m


async def check(scenario: Scenario) -> None:
    clock = SimClock()
    log: list[Event] = []
    sup = Supervisor(
        clock=clock,
        on_error="restart",
        restart=RestartPolicy(base=DELAY, factor=1.0, cap=DELAY),
        strategy=scenario.strategy,  # type: ignore[arg-type]
        max_restarts=scenario.max_restarts,
        period=scenario.period,
    )
    escaped: BaseException | None = None
    with anyio.fail_after(WALL_BOUND):
        try:
            async with sup:
                for i, spec in enumerate(scenario.specs):
                    policy = (
                        None
                        if spec.max_restarts is None
                        else RestartPolicy(
                            base=DELAY,
                            factor=1.0,
                            cap=DELAY,
                            max_restarts=spec.max_restarts,
                            period=10.0,
                        )
                    )
                    sup.add(
                        Member(f"d{i}", spec.fail_at, log), on_error=spec.on_error, restart=policy
                    )
                await clock.advance(HORIZON)
                await sup.stop(grace=1000.0)
        except ExceptionGroup as group:
            escaped = group
    expected = model(scenario)
    body = log[: len(log) - len(expected.tail)]
    assert body == expected.log, (scenario, log)
    assert set(log[len(body) :]) == expected.tail, (scenario, log)
    assert len(log[len(body) :]) == len(expected.tail)
    for name in {n for n, _ in log}:  # on_stop exactly once after each on_start
        hooks = [what for n, what in log if n == name]
        assert hooks == ["start", "stop"] * (len(hooks) // 2), (name, hooks)
    snap = sup.snapshot()
    for name, state in expected.state.items():
        assert snap[name].state == state, (name, snap[name], scenario)
    for name, count in expected.restarts.items():
        assert snap[name].restart_count == count, (name, snap[name], scenario)
    if expected.error is None:
        assert escaped is None, escaped
    else:
        assert escaped is not None, scenario
        [leaf] = leaves(escaped)
        assert isinstance(leaf, DaemonError)
        assert str(leaf).startswith(expected.error), (str(leaf), expected.error)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(min_value=1, max_value=5))
    times = draw(st.lists(st.integers(min_value=1, max_value=10), unique=True, max_size=8))
    owners = draw(st.lists(st.integers(0, count - 1), min_size=len(times), max_size=len(times)))
    specs = tuple(
        Spec(
            fail_at=tuple(sorted(t for t, o in zip(times, owners, strict=True) if o == i)),
            on_error=draw(st.sampled_from((None, None, "restart", "ignore"))),
            max_restarts=draw(st.sampled_from((None, None, 1, 2))),
        )
        for i in range(count)
    )
    return Scenario(
        strategy=draw(st.sampled_from(("one_for_one", "one_for_all", "rest_for_one"))),
        specs=specs,
        max_restarts=draw(st.sampled_from((None, 2, 4))),
        period=draw(st.sampled_from((1.0, 3.0))),
    )


_BASE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(_BASE, max_examples=40)
@given(scenario=scenarios())
async def test_strategy_properties(scenario: Scenario) -> None:
    await check(scenario)


@pytest.mark.slow
@settings(_BASE, max_examples=10_000)
@given(scenario=scenarios())
async def test_strategy_properties_long(scenario: Scenario) -> None:
    """The dedicated profile: 10,000 cases on each backend."""
    await check(scenario)
