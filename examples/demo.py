"""tickwork demo: a small sensor station, run for real and then replayed.

A sensor daemon samples every 0.5 s into a channel; an aggregator averages each
batch of 4 samples and fails once on a "glitch" reading, so the supervisor restarts
it with backoff; a reporter prints the supervisor's health snapshot. First three
real seconds on WallClock, then one hour replayed on SimClock in a blink, twice,
showing the replay is identical.
"""

from __future__ import annotations

import logging
import random
import sys
import time

import anyio

import tickwork
from tickwork import Channel, Clock, Context, RestartPolicy, SimClock, Supervisor, daemon


class Glitch(Exception):
    """A reading the aggregator refuses (to show a restart)."""


@daemon
async def sensor(ctx: Context, out: tickwork.SendStream[float], seed: int) -> None:
    rng = random.Random(seed)
    async with out:  # closing tells the aggregator there is no more data
        async for _ in ctx.clock.every(0.5):
            if ctx.stopping:
                return
            await out.send(round(20 + rng.gauss(0, 1.5), 2))


@daemon
async def aggregator(
    ctx: Context, inbox: tickwork.ReceiveStream[float], log: list[str], start: float
) -> None:
    batch: list[float] = []
    async for reading in inbox:
        if reading > 24.5:
            raise Glitch(f"reading {reading} out of range")
        batch.append(reading)
        if len(batch) == 4:
            line = f"t={ctx.clock.now() - start:7.1f}s mean={sum(batch) / 4:.2f}"
            log.append(line)
            batch.clear()


async def station(clock: Clock, seconds: float, *, verbose: bool) -> list[str]:
    log: list[str] = []
    ch: Channel[float] = tickwork.open_channel(16)
    policy = RestartPolicy(base=1.0, cap=10.0, jitter=0.1, seed=1, reset_after=60.0)
    async with Supervisor(clock=clock, on_error="restart", restart=policy) as sup:
        sup.add(sensor(ch.send, seed=42))
        sup.add(aggregator(ch.recv, log, clock.now()))
        if isinstance(clock, SimClock):
            await clock.advance(seconds)
        else:
            await clock.sleep(seconds)
        snapshot = sup.snapshot()
        await sup.stop(grace=1.0)
    if verbose:
        for line in log[-3:]:
            print("   ", line)
    health = snapshot["aggregator"]
    print(
        f"    aggregator: {health.state}, restarts={health.restart_count}, "
        f"last error={health.last_error!r}"
    )
    return log


async def main() -> None:
    # Restart warnings would drown the output; show errors only.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    print("3 real seconds on WallClock:")
    await station(tickwork.WallClock(), 3.0, verbose=True)
    print("1 hour replayed on SimClock, twice:")
    started = time.perf_counter()
    first = await station(SimClock(), 3600.0, verbose=True)
    second = await station(SimClock(), 3600.0, verbose=False)
    elapsed = time.perf_counter() - started
    print(
        f"    {len(first)} batches each; identical replay: {first == second}; {elapsed:.2f}s wall"
    )


if __name__ == "__main__":
    anyio.run(main, backend="trio" if "--trio" in sys.argv[1:] else "asyncio")
