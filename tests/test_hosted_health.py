"""Daemon.hosted_health: what a daemon hosts elsewhere, in its supervisor's snapshot()."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from tickwork import Context, Daemon, DaemonHealth, SimClock, Supervisor


class Host(Daemon):
    """Reports two hosted daemons while it runs."""

    def __init__(self) -> None:
        self.name = "host"
        self.running = anyio.Event()

    def hosted_health(self) -> Sequence[DaemonHealth]:
        return [DaemonHealth(inner, "running", 2, None, None, None, 1.5) for inner in ("a", "b")]

    async def run(self, ctx: Context) -> None:
        self.running.set()
        await ctx.stop_event.wait()


async def test_hosted_daemons_are_listed_under_the_hosts_name() -> None:
    host = Host()

    async def impostor(ctx: Context) -> None:
        await ctx.stop_event.wait()

    sup = Supervisor(clock=SimClock())
    async with sup:
        sup.add(host)
        sup.spawn(impostor, name="host/b")  # a real daemon of that name wins
        await host.running.wait()
        snapshot = sup.snapshot()
        assert sorted(snapshot) == ["host", "host/a", "host/b"]
        assert snapshot["host/a"] == DaemonHealth("host/a", "running", 2, None, None, None, 1.5)
        assert snapshot["host/b"].restart_count == 0  # the impostor's own entry
        await sup.stop()
    assert sorted(sup.snapshot()) == ["host", "host/b"]  # finished: hosted entries gone


def test_a_plain_daemon_hosts_nothing() -> None:
    class Plain(Daemon):
        async def run(self, ctx: Context) -> None:
            raise AssertionError("never run")

    assert Plain().hosted_health() == ()
