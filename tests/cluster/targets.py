"""Factories the cluster tests run in child processes (imported there as ``targets``).

The tests put this directory on the child's ``PYTHONPATH`` through ``env=``, which also
exercises the environment merge.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import anyio

from tickwork import Context, Daemon, EndOfStream, ReceiveStream, SendStream, daemon


@daemon
async def idle(ctx: Context, greeting: str) -> None:
    """Say hello on every channel a test listens to, then wait for the stop."""
    ctx.logger.info("hello %s", greeting)
    logging.getLogger("targets.custom").warning("custom logger %d", 7)
    print(f"stdout {greeting}", flush=True)
    print("stderr line one\nstderr line two", file=sys.stderr, flush=True)
    await ctx.stop_event.wait()


def idle_pair(greeting: str) -> list[Daemon]:
    """Two daemons in one child."""
    return [idle(greeting), _named_idle(greeting)]


@daemon(name="second")
async def _named_idle(ctx: Context, greeting: str) -> None:
    await ctx.stop_event.wait()


@daemon
async def crash(ctx: Context, text: str, number: int) -> None:
    """Fail with a ValueError whose args and traceback the parent must see intact."""
    raise ValueError(text, number)


@daemon
async def hard_exit(ctx: Context, code: int) -> None:
    """Leave the process without any goodbye (as a segfaulting driver would)."""
    os._exit(code)


@daemon
async def finish(ctx: Context) -> None:
    """Return at once: the child stops cleanly and exits 0."""


class _BadStart(Daemon):
    async def on_start(self, ctx: Context) -> None:
        raise RuntimeError("cannot open the device")

    async def run(self, ctx: Context) -> None:
        raise AssertionError("unreachable")


def bad_start() -> Daemon:
    """A daemon whose on_start fails in the child."""
    return _BadStart()


def not_a_daemon() -> object:
    """A factory that returns the wrong thing."""
    return 42


@daemon
async def doubler(
    ctx: Context,
    crash_marker: str,
    *,
    jobs: ReceiveStream[int],
    results: SendStream[list[int]],
) -> None:
    """Send [job, 2*job] per job; crash once (the first time) on job 5 if the marker is set."""
    while True:
        try:
            job = await jobs.receive()
        except EndOfStream:
            return
        marker = Path(crash_marker) if crash_marker else None
        if job == 5 and marker is not None and not marker.exists():
            marker.write_text("crashed")
            raise RuntimeError("crash on job 5")
        await results.send([job, 2 * job])


@daemon
async def hang_after_start(ctx: Context) -> None:
    """Ignore the stop: only SIGTERM gets rid of it."""
    with anyio.CancelScope(shield=True):
        await anyio.sleep_forever()
