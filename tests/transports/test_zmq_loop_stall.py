"""No blocking call on the event loop thread: a watchdog measures it, the linter bans it."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.from_thread
import anyio.to_thread

from tickwork.transports.zmq import (
    CurveClient,
    CurveServer,
    MsgpackSerde,
    curve_keypair,
    open_zmq_receive,
    open_zmq_send,
)

STALL_LIMIT = 0.15
"""Seconds the loop thread may go without running a callback from another thread.

A normal loop iteration here takes well under a millisecond and a loaded shared machine
adds tens of milliseconds at worst; one blocking call of the kind this guards against
(the old ZAP retry loop waited up to 500 x 2 ms; a thread join waits for that thread)
shows up as a stall far above this."""

ROOT = pathlib.Path(__file__).parents[2]


class LoopWatchdog:
    """A helper thread that keeps asking the loop thread to run a no-op, and times it."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.probes = 0
        self._stop = False

    def _watch(self) -> None:
        while not self._stop:
            started = time.perf_counter()
            anyio.from_thread.run_sync(lambda: None)
            self.worst = max(self.worst, time.perf_counter() - started)
            self.probes += 1

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LoopWatchdog]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, self._watch)
            try:
                yield self
            finally:
                self._stop = True


async def curve_round_trip(server: CurveServer, client: CurveClient) -> None:
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with (
        open_zmq_receive(
            "tcp://127.0.0.1:0", maxsize=4, serde=serde, curve=server, linger_ms=0
        ) as rx,
        open_zmq_send(rx.endpoint, maxsize=4, serde=serde, curve=client) as tx,
    ):
        await tx.send(1)
        assert await rx.receive() == 1


async def test_curve_start_up_and_teardown_never_stall_the_loop() -> None:
    server_public, server_secret = curve_keypair()
    client_public, client_secret = curve_keypair()
    server = CurveServer(server_public, server_secret, allowed_clients=[client_public])
    client = CurveClient(server_public, client_public, client_secret)
    watchdog = LoopWatchdog()
    with anyio.fail_after(20):
        async with watchdog.running():
            # Each round starts the context's authenticator and stops it again, so the
            # next start meets a ZAP address libzmq may not have freed yet (the retry path).
            for _ in range(3):
                await curve_round_trip(server, client)
    assert watchdog.probes > 0
    assert watchdog.worst < STALL_LIMIT, f"the loop thread stalled for {watchdog.worst:.3f} s"


def test_blocking_waits_are_banned_in_the_transports() -> None:
    # The lint half of the guard (src/tickwork/transports/ruff.toml): a thread Event's
    # wait on the loop thread is what _curve.py once did.
    source = "import threading\n\n\ndef f() -> None:\n    threading.Event().wait(0.002)\n"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--stdin-filename",
            "src/tickwork/transports/zmq/_probe.py",
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "TID251" in result.stdout
    assert "threading.Event" in result.stdout
