"""The health endpoint, live: a small sensor station serving /livez, /readyz, /metrics.

    python examples/health_demo.py              # until Ctrl-C; then: curl -s 127.0.0.1:8081/readyz
    python examples/health_demo.py --seconds 3  # what `make demo` runs: it probes itself

Needs the ``http`` extra (``pip install "tickwork[http]"``; ``make demo`` installs it).
A sensor samples every 0.2 s into a channel whose statistics ``/metrics`` reports; an
averager reads it. ``serve_hosting`` serves the endpoint for this supervisor (and, under
systemd, would speak the notify protocol too). ``tickwork.run(..., health=...)`` does
the same for a program whose root is one Supervisor.
"""

from __future__ import annotations

import argparse
import random
import sys
import urllib.error
import urllib.request
from functools import partial

import anyio

import tickwork
from tickwork import Channel, Clock, Context, Supervisor, daemon
from tickwork.hosting import STATUS_INTERVAL, register_stats, serve_hosting

SAMPLE_PERIOD = 0.2  # seconds between readings
FETCH_TIMEOUT = 5.0  # wall seconds for the demo's own probe


@daemon
async def sensor(ctx: Context, out: tickwork.SendStream[float], seed: int) -> None:
    rng = random.Random(seed)
    async with out:
        async for _ in ctx.clock.every(SAMPLE_PERIOD):
            if ctx.stopping:
                return
            await out.send(round(20 + rng.gauss(0, 1.5), 2))


@daemon
async def averager(ctx: Context, inbox: tickwork.ReceiveStream[float]) -> None:
    total = count = 0.0
    async for reading in inbox:
        total, count = total + reading, count + 1
    ctx.logger.info("mean of %d readings: %.2f", count, total / max(count, 1))


def _get(url: str) -> tuple[int, str]:
    """One GET with the standard library (the status even for a 503)."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def _probe_then_stop(sup: Supervisor, bound: str, seconds: float) -> None:
    """GET /readyz and a few /metrics lines, as curl would show them; stop at ``seconds``."""
    await sup.wait_all_started()
    await sup.clock.sleep(STATUS_INTERVAL)  # one health evaluation
    status, body = await anyio.to_thread.run_sync(_get, f"http://{bound}/readyz")
    print(f"GET /readyz -> {status}")
    print(body)
    _, metrics = await anyio.to_thread.run_sync(_get, f"http://{bound}/metrics")
    print("GET /metrics (excerpt):")
    for line in metrics.splitlines():
        if line.startswith(("tickwork_daemons{", "tickwork_channel_current_buffer")):
            print(f"    {line}")
    await sup.clock.sleep(max(0.0, seconds - STATUS_INTERVAL))
    await sup.stop()


async def main(address: str, seconds: float | None, clock: Clock | None = None) -> None:
    ch: Channel[float] = tickwork.open_channel(16)
    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock) as sup:
            sup.add(sensor(ch.send, seed=7))
            sup.add(averager(ch.recv))
            register_stats(sup, "readings", ch.recv)
            bound = await tg.start(partial(serve_hosting, sup, health=address))
            print(f"health endpoint on http://{bound}: /livez, /readyz, /metrics")
            print(f"look: curl -s {bound}/readyz")
            if seconds is None:
                await anyio.Event().wait()  # until Ctrl-C
            else:
                await _probe_then_stop(sup, bound, seconds)
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the health endpoint, live")
    parser.add_argument("--health", default="127.0.0.1:8081", metavar="HOST:PORT")
    parser.add_argument("--seconds", type=float, help="probe itself, then stop after this")
    parser.add_argument("--trio", action="store_true")
    args = parser.parse_args()
    try:
        anyio.run(main, args.health, args.seconds, backend="trio" if args.trio else "asyncio")
    except KeyboardInterrupt:
        sys.exit(130)
