"""NetworkDaemon under SimClock: exact transition histories for a scripted flaky service."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import anyio
import pytest

from tickwork import Context, Daemon, SimClock, Supervisor, WallClock
from tickwork.network import Backoff, NetworkDaemon, NetworkStatus, StatusChange

S = NetworkStatus
FINALIZE_TIMEOUT = 0.05
FINALIZE_BOUND = 2.0  # generous: a hang would exceed it (the old code took 5 s or forever)


class ScriptedService(NetworkDaemon):
    """Answers each check from a script, and logs every hook call with its clock time."""

    def __init__(self, script: Iterable[str], **settings: Any) -> None:
        settings.setdefault("backoff", Backoff(jitter=0.0))
        super().__init__(name="svc", **settings)
        self.script = list(script)
        self.calls: list[tuple[float, str]] = []
        self.fail_hooks: set[str] = set()

    def _log(self, ctx: Context, what: str) -> None:
        self.calls.append((ctx.clock.now(), what))

    async def check_network(self, ctx: Context) -> NetworkStatus:
        mode = self.script.pop(0) if self.script else "up"
        self._log(ctx, f"check:{mode}")
        if mode == "down":
            return S.NOT_CONNECTED
        if mode == "slow":
            await ctx.clock.sleep(30)
            return S.CONNECTED
        if mode == "raise":
            raise ConnectionResetError("service reset the connection")
        if mode == "error":
            return S.ERROR
        if mode == "weird":
            return S.DISCONNECTING
        return S.CONNECTED

    async def _hook(self, ctx: Context, name: str) -> None:
        self._log(ctx, name)
        if name in self.fail_hooks:
            self.fail_hooks.discard(name)
            raise RuntimeError(f"{name} failed")

    async def start_network(self, ctx: Context) -> None:
        await self._hook(ctx, "start")

    async def stop_network(self, ctx: Context) -> None:
        await self._hook(ctx, "stop")

    async def on_connected(self, ctx: Context) -> None:
        await self._hook(ctx, "on_connected")

    async def on_disconnected(self, ctx: Context) -> None:
        await self._hook(ctx, "on_disconnected")

    async def while_connected(self, ctx: Context) -> None:
        self._log(ctx, "work:start")
        try:
            await anyio.sleep_forever()
        except BaseException:
            self._log(ctx, "work:cancelled")
            raise


def h(*rows: tuple[float, NetworkStatus, NetworkStatus]) -> list[StatusChange]:
    return [StatusChange(*row) for row in rows]


async def run_until(clock: SimClock, d: NetworkDaemon, t: float) -> Supervisor:
    """Host ``d``, advance to ``t``, stop the supervisor; return it for inspection."""
    async with Supervisor(clock=clock) as sup:
        sup.add(d)
        await clock.advance_to(t)
        await sup.stop()
    return sup


async def test_status_is_stopped_before_start_and_after_stop() -> None:
    clock = SimClock()
    d = ScriptedService([])
    assert d.network_status is S.STOPPED
    assert d.status_history == []
    await run_until(clock, d, 5)
    assert d.network_status is S.STOPPED


async def test_outage_of_90_seconds_replays_exactly() -> None:
    clock = SimClock()
    script: list[str] = ["up", "up", "up", *(["down"] * 7), "up", "up"]
    d = ScriptedService(script)
    async with Supervisor(clock=clock) as sup:
        sup.add(d)
        await clock.advance_to(29)
        assert d.network_status is S.CONNECTED
        assert d.connected_since == 0.0
        await clock.advance_to(50)
        # Written on every check: down means NOT_CONNECTED, never a stale CONNECTING.
        assert d.network_status is S.NOT_CONNECTED
        assert d.connected_since is None
        await clock.advance_to(170)
        await sup.stop()
    assert d.status_history == h(
        (0, S.STOPPED, S.NOT_CONNECTED),
        (0, S.NOT_CONNECTED, S.CONNECTING),
        (0, S.CONNECTING, S.CONNECTED),
        (30, S.CONNECTED, S.NOT_CONNECTED),
        (31, S.NOT_CONNECTED, S.CONNECTING),
        (31, S.CONNECTING, S.NOT_CONNECTED),
        (33, S.NOT_CONNECTED, S.CONNECTING),
        (33, S.CONNECTING, S.NOT_CONNECTED),
        (37, S.NOT_CONNECTED, S.CONNECTING),
        (37, S.CONNECTING, S.NOT_CONNECTED),
        (45, S.NOT_CONNECTED, S.CONNECTING),
        (45, S.CONNECTING, S.NOT_CONNECTED),
        (61, S.NOT_CONNECTED, S.CONNECTING),
        (61, S.CONNECTING, S.NOT_CONNECTED),
        (93, S.NOT_CONNECTED, S.CONNECTING),
        (93, S.CONNECTING, S.NOT_CONNECTED),
        (157, S.NOT_CONNECTED, S.CONNECTING),
        (157, S.CONNECTING, S.CONNECTED),
        (170, S.CONNECTED, S.DISCONNECTING),
        (170, S.DISCONNECTING, S.STOPPED),
    )
    checks = [t for t, what in d.calls if what.startswith("check")]
    assert checks == [0, 10, 20, 30, 31, 33, 37, 45, 61, 93, 157, 167]
    hooks = [(t, what) for t, what in d.calls if not what.startswith("check")]
    assert hooks == [
        (0, "start"),
        (0, "on_connected"),
        (0, "work:start"),
        (30, "work:cancelled"),
        (30, "on_disconnected"),
        (30, "stop"),
        (157, "start"),
        (157, "on_connected"),
        (157, "work:start"),
        (170, "work:cancelled"),
        (170, "on_disconnected"),
        (170, "stop"),
    ]
    assert (d.connects, d.disconnects, d.check_failures, d.checks) == (2, 2, 7, 12)
    assert d.errors == 0


async def test_flapping_slow_and_raising_checks() -> None:
    clock = SimClock()
    script: list[str] = ["up", "down", "up", "down", "up", "slow", "raise", "slow", "error"]
    d = ScriptedService(script)
    await run_until(clock, d, 170)
    assert d.status_history == h(
        (0, S.STOPPED, S.NOT_CONNECTED),
        (0, S.NOT_CONNECTED, S.CONNECTING),
        (0, S.CONNECTING, S.CONNECTED),
        # flapping: each loss is followed by the first backoff step (reset on success)
        (10, S.CONNECTED, S.NOT_CONNECTED),
        (11, S.NOT_CONNECTED, S.CONNECTING),
        (11, S.CONNECTING, S.CONNECTED),
        (21, S.CONNECTED, S.NOT_CONNECTED),
        (22, S.NOT_CONNECTED, S.CONNECTING),
        (22, S.CONNECTING, S.CONNECTED),
        # a check that hangs past check_network_timeout=5 counts as NOT_CONNECTED
        (37, S.CONNECTED, S.NOT_CONNECTED),
        (38, S.NOT_CONNECTED, S.CONNECTING),
        # a raising check is ERROR: wait max(backoff, network_error_wait_time=60)
        (38, S.CONNECTING, S.ERROR),
        (98, S.ERROR, S.CONNECTING),
        (103, S.CONNECTING, S.NOT_CONNECTED),
        # backoff kept growing through the failures: 1, 2, 4, then 8 < 60
        (107, S.NOT_CONNECTED, S.CONNECTING),
        (107, S.CONNECTING, S.ERROR),
        (167, S.ERROR, S.CONNECTING),
        (167, S.CONNECTING, S.CONNECTED),
        (170, S.CONNECTED, S.DISCONNECTING),
        (170, S.DISCONNECTING, S.STOPPED),
    )
    assert (d.connects, d.disconnects) == (4, 4)
    assert d.check_failures == 6
    assert d.errors == 1
    assert isinstance(d.last_error, ConnectionResetError)
    starts = sum(1 for _, what in d.calls if what == "start")
    stops = sum(1 for _, what in d.calls if what == "stop")
    assert starts == stops == 4


async def test_a_bad_return_value_is_an_error_not_a_crash() -> None:
    clock = SimClock()
    d = ScriptedService(["weird", "up"])
    await run_until(clock, d, 61)
    assert [(t, new) for t, _, new in d.status_history][:5] == [
        (0, S.NOT_CONNECTED),
        (0, S.CONNECTING),
        (0, S.ERROR),
        (60, S.CONNECTING),
        (60, S.CONNECTED),
    ]
    assert isinstance(d.last_error, TypeError)
    assert "must return" in str(d.last_error)


@pytest.mark.parametrize("hook", ["start", "on_connected", "on_disconnected", "stop"])
async def test_an_exception_in_any_hook_is_an_error_and_the_loop_goes_on(hook: str) -> None:
    clock = SimClock()
    d = ScriptedService(["up", "down", "up", "down", "up"])
    d.fail_hooks.add(hook)
    await run_until(clock, d, 200)
    assert d.errors == 1
    assert isinstance(d.last_error, RuntimeError)
    assert str(d.last_error) == f"{hook} failed"
    assert any(new is S.ERROR for _, _, new in d.status_history)
    # It recovered and was still running at the end.
    assert d.status_history[-3].new is S.CONNECTED
    assert d.status_history[-1] == StatusChange(200, S.DISCONNECTING, S.STOPPED)
    starts = [t for t, what in d.calls if what == "start"]
    stops = [t for t, what in d.calls if what == "stop"]
    expected_ok_starts = len(starts) - (1 if hook == "start" else 0)
    assert len(stops) == expected_ok_starts  # once per successful start, failing or not


async def test_start_network_error_backs_off_and_retries() -> None:
    clock = SimClock()
    d = ScriptedService(["up", "up"])
    d.fail_hooks.add("start")
    await run_until(clock, d, 61)
    assert d.status_history[:6] == h(
        (0, S.STOPPED, S.NOT_CONNECTED),
        (0, S.NOT_CONNECTED, S.CONNECTING),
        (0, S.CONNECTING, S.ERROR),
        (60, S.ERROR, S.CONNECTING),
        (60, S.CONNECTING, S.CONNECTED),
        (61, S.CONNECTED, S.DISCONNECTING),
    )
    # No stop_network for the start that failed; one for the one that worked.
    assert [w for _, w in d.calls if w in ("start", "stop")] == ["start", "start", "stop"]


async def test_while_connected_error_ends_the_connection_and_retries() -> None:
    class Crashy(ScriptedService):
        async def while_connected(self, ctx: Context) -> None:
            self._log(ctx, "work:start")
            await ctx.clock.sleep(3)
            raise ValueError("worker crashed")

    clock = SimClock()
    d = Crashy([])
    await run_until(clock, d, 64)
    assert d.status_history[:7] == h(
        (0, S.STOPPED, S.NOT_CONNECTED),
        (0, S.NOT_CONNECTED, S.CONNECTING),
        (0, S.CONNECTING, S.CONNECTED),
        (3, S.CONNECTED, S.ERROR),
        (63, S.ERROR, S.CONNECTING),
        (63, S.CONNECTING, S.CONNECTED),
        (64, S.CONNECTED, S.DISCONNECTING),
    )
    assert [(t, w) for t, w in d.calls if w in ("on_disconnected", "stop")][:2] == [
        (3, "on_disconnected"),
        (3, "stop"),
    ]
    assert isinstance(d.last_error, ValueError)


async def test_stop_while_disconnected_does_not_call_stop_network() -> None:
    clock = SimClock()
    d = ScriptedService(["down"] * 10)
    await run_until(clock, d, 20)
    assert d.status_history[-2:] == h(
        (20, S.NOT_CONNECTED, S.DISCONNECTING), (20, S.DISCONNECTING, S.STOPPED)
    )
    assert not [w for _, w in d.calls if w in ("start", "stop", "on_disconnected")]


async def test_cancelled_by_a_failing_sibling_still_calls_stop_network_once() -> None:
    class Boom(Daemon):
        async def run(self, ctx: Context) -> None:
            await ctx.clock.sleep(15)
            raise OSError("sibling broke")

    clock = SimClock()
    d = ScriptedService([])

    async def host() -> None:
        async with Supervisor(clock=clock) as sup:
            sup.add(d)
            sup.add(Boom())
            await clock.advance(20)

    with pytest.raises(ExceptionGroup):
        await host()
    assert d.network_status is S.STOPPED
    assert d.status_history[-2:] == h(
        (15, S.CONNECTED, S.DISCONNECTING), (15, S.DISCONNECTING, S.STOPPED)
    )
    assert [w for _, w in d.calls if w in ("start", "stop")] == ["start", "stop"]


async def test_seeded_jitter_replays_identically() -> None:
    async def once() -> list[StatusChange]:
        clock = SimClock()
        d = ScriptedService(["up", *(["down"] * 6), "up"], backoff=Backoff(seed=2024))
        await run_until(clock, d, 200)
        return d.status_history

    first, second = await once(), await once()
    assert first == second
    # The times are the seeded stream's (SimClock keeps whole nanoseconds), on any backend.
    expected = Backoff(seed=2024)
    t_ns = 10 * 10**9
    failures = [t_ns / 1e9]
    for _ in range(5):
        t_ns += round(expected.next() * 1e9)
        failures.append(t_ns / 1e9)
    got = [c.time for c in first if c.new is S.NOT_CONNECTED and c.old is not S.STOPPED]
    assert got == failures
    assert not all(float(x).is_integer() for x in got[1:])


@pytest.mark.parametrize(
    "setting", ["check_network_interval", "check_network_timeout", "network_error_wait_time"]
)
@pytest.mark.parametrize("value", [0.0, 0.05, 0.0999, -1.0, math.nan, math.inf])
def test_settings_below_a_tenth_of_a_second_are_rejected(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=setting):
        ScriptedService([], **{setting: value})
    d = ScriptedService([])
    with pytest.raises(ValueError, match=setting):
        setattr(d, setting, value)


def test_settings_accept_a_tenth_of_a_second() -> None:
    d = ScriptedService(
        [], check_network_interval=0.1, check_network_timeout=0.1, network_error_wait_time=0.1
    )
    assert d.check_network_interval == 0.1


def test_bad_setting_types_and_backoff() -> None:
    with pytest.raises(TypeError, match="check_network_interval"):
        ScriptedService([], check_network_interval="10")
    with pytest.raises(TypeError, match="backoff"):
        ScriptedService([], backoff=2.0)
    with pytest.raises(ValueError, match=r"backoff\.min"):
        ScriptedService([], backoff=Backoff(min=0.01))
    with pytest.raises(ValueError, match="history_limit"):
        ScriptedService([], history_limit=0)


async def test_history_is_bounded() -> None:
    clock = SimClock()
    d = ScriptedService(["down"] * 100, history_limit=5, backoff=Backoff(max=1.0, jitter=0.0))
    await run_until(clock, d, 50)
    assert len(d.status_history) == 5
    assert d.status_history[-1].new is S.STOPPED


async def test_subclass_that_skips_super_init_gets_a_clear_error() -> None:
    class Forgetful(NetworkDaemon):
        def __init__(self) -> None:
            pass

        async def check_network(self, ctx: Context) -> NetworkStatus:
            return S.CONNECTED

    async def host() -> None:
        clock = SimClock()
        async with Supervisor(clock=clock) as sup:
            sup.add(Forgetful())
            await clock.run_until_idle()

    with pytest.raises(ExceptionGroup) as info:
        await host()
    assert "super().__init__()" in str(info.value.exceptions[0].__cause__)


async def test_stop_interrupts_a_long_wait_at_once() -> None:
    clock = SimClock()
    d = ScriptedService(["raise"])
    async with Supervisor(clock=clock) as sup:
        sup.add(d)
        await clock.advance(1)
        with anyio.fail_after(5):  # wall-clock guard only; the stop itself takes no time
            await sup.stop()
    assert clock.now() == 1.0
    assert d.status_history[-1] == StatusChange(1.0, S.DISCONNECTING, S.STOPPED)


class HangsOnStop(NetworkDaemon):
    """Connects at once; its stop_network never returns."""

    def __init__(self) -> None:
        super().__init__(name="hangs")
        self.connected = anyio.Event()

    async def check_network(self, ctx: Context) -> NetworkStatus:
        return S.CONNECTED

    async def start_network(self, ctx: Context) -> None:
        self.connected.set()

    async def stop_network(self, ctx: Context) -> None:
        await anyio.Event().wait()


@pytest.mark.parametrize("clock_kind", ["wall", "sim"])
async def test_a_hanging_stop_network_is_cut_off_at_finalize_timeout(
    clock_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = WallClock() if clock_kind == "wall" else SimClock()
    d = HangsOnStop()
    async with Supervisor(clock=clock) as sup:
        sup.add(d)
        await d.connected.wait()
        with anyio.fail_after(FINALIZE_BOUND):  # the bound under test, plus slack
            await sup.stop(grace=0, finalize_timeout=FINALIZE_TIMEOUT)
    assert d.network_status is S.STOPPED
    assert d.status_history[-1].new is S.STOPPED
    assert any("did not finish within" in r.getMessage() for r in caplog.records)
