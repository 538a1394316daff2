"""Daemons for tests/test_run.py, run in a child process by ``python -m tickwork run``.

Each prints a line (flushed) at the points the parent synchronises on.
"""

from __future__ import annotations

import anyio

from tickwork import Context, Daemon


class Polite(Daemon):
    """Runs until the stop event, then returns; announces start and on_stop."""

    name = "polite"

    async def on_start(self, ctx: Context) -> None:
        print("polite started", flush=True)

    async def run(self, ctx: Context) -> None:
        await ctx.stop_event.wait()
        print("polite run returned", flush=True)

    async def on_stop(self, ctx: Context) -> None:
        print("polite on_stop ran", flush=True)


class Stubborn(Daemon):
    """Ignores the stop event: only a cancellation ends it."""

    name = "stubborn"

    async def on_start(self, ctx: Context) -> None:
        print("stubborn started", flush=True)

    async def run(self, ctx: Context) -> None:
        await anyio.Event().wait()

    async def on_stop(self, ctx: Context) -> None:
        print("stubborn on_stop ran", flush=True)


class Failing(Daemon):
    name = "failing"

    async def run(self, ctx: Context) -> None:
        raise RuntimeError("failing on purpose")


def polite() -> Daemon:
    return Polite()


def stubborn() -> list[Daemon]:
    return [Stubborn()]


def failing() -> list[Daemon]:
    return [Failing(), Polite()]


def not_daemons() -> list[object]:
    return [42]
