"""Factories the cluster tests run in child processes (imported there as ``targets``).

The tests put this directory on the child's ``PYTHONPATH`` through ``env=``, which also
exercises the environment merge.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Final

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


class _ReadsInOnStart(Daemon):
    """Takes its first job in ``on_start`` (which therefore needs the bridge already)."""

    def __init__(self, jobs: ReceiveStream[int], results: SendStream[int]) -> None:
        self.name = "reads_in_on_start"
        self._jobs = jobs
        self._results = results
        self._first = 0

    async def on_start(self, ctx: Context) -> None:
        self._first = await self._jobs.receive()

    async def run(self, ctx: Context) -> None:
        await self._results.send(self._first * 10)
        await ctx.stop_event.wait()


def reads_in_on_start(*, jobs: ReceiveStream[int], results: SendStream[int]) -> Daemon:
    """A daemon whose on_start waits for data from the parent's channel."""
    return _ReadsInOnStart(jobs, results)


def _first_time(marker: str) -> bool:
    """True the first time it is called with ``marker`` (a file it then creates)."""
    path = Path(marker)
    if path.exists():
        return False
    path.write_text("seen")
    return True


@daemon
async def send_then_die(ctx: Context, marker: str, *, results: SendStream[str]) -> None:
    """First process: send one item, then SIGKILL itself the moment send() returns.

    A later process (the marker exists) sends nothing: the item must have reached the
    parent before send() returned, or it is lost.
    """
    if not _first_time(marker):
        await ctx.stop_event.wait()
        return
    await results.send("kept")
    os.kill(os.getpid(), signal.SIGKILL)


@daemon
async def explode_on_job(ctx: Context, *, jobs: ReceiveStream[str]) -> None:
    """Run until a job arrives, then fail with its text."""
    raise RuntimeError(await jobs.receive())


BEAT: Final = 0.05
"""How often ``beats`` writes: a test counts real time passing in the child by these."""


@daemon
async def beats(ctx: Context, fifo: str) -> None:
    """Write one byte to ``fifo`` every BEAT seconds (the reader opened it first)."""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        async for _ in ctx.clock.every(BEAT):
            if ctx.stopping:
                return  # (orphaned: the child is stopping itself)
            os.write(fd, b".")
    finally:
        os.close(fd)
