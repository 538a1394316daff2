"""Stream sensor readings to a local TCP collector that gets killed and restarted.

A ``sensor`` daemon produces one reading per period into an :class:`Outbox`; the
Outbox posts batches over TCP to a collector on 127.0.0.1 and waits for its ack. A
``chaos`` schedule kills the collector twice and starts it again on the same port; a
:class:`NetworkDaemon` watches the port meanwhile. The collector keeps what it stored
across restarts (like a database) and drops any sequence number it has already seen,
so a batch resent after a half-finished post is harmless.

    python examples/network_watch.py                 # WallClock: about 4 seconds
    python examples/network_watch.py --sim           # SimClock: 10 minutes, replayed fast
    python examples/network_watch.py --sim --backend trio

Exits 0 when every reading reached the collector exactly once and in order.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from tickwork import Clock, Context, Daemon, SimClock, Supervisor, WallClock
from tickwork.network import (
    Backoff,
    NetworkDaemon,
    NetworkStatus,
    Outbox,
    OutboxChange,
    Sequenced,
)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """Timings of one run, in clock seconds."""

    duration: float
    period: float
    outages: tuple[tuple[float, float], ...]
    check_interval: float
    check_timeout: float
    error_wait: float
    # Factories, not instances: a Backoff has state, and every run starts afresh.
    outbox_backoff: Callable[[], Backoff]
    watch_backoff: Callable[[], Backoff]


SIM = Scenario(
    duration=600.0,
    period=2.0,
    outages=((120.0, 210.0), (400.0, 430.0)),
    check_interval=10.0,
    check_timeout=5.0,
    error_wait=60.0,
    outbox_backoff=partial(Backoff, min=1.0, max=30.0, seed=1),
    watch_backoff=partial(Backoff, min=1.0, max=30.0, seed=2),
)

WALL = Scenario(
    duration=4.0,
    period=0.02,
    outages=((1.0, 2.0), (2.8, 3.1)),
    check_interval=0.2,
    check_timeout=0.5,
    error_wait=0.5,
    outbox_backoff=partial(Backoff, min=0.05, max=0.2, seed=1),
    watch_backoff=partial(Backoff, min=0.1, max=0.2, seed=2),
)


# -- the far side: a collector that can be killed ---------------------------------------


class Collector(Daemon):
    """A TCP service storing ``seq value`` lines; acks each batch; up except in outages."""

    name = "collector"

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.port = 0
        self.ready = anyio.Event()
        self.stored: list[tuple[int, float]] = []
        self.duplicates = 0
        self.starts = 0
        self.t0 = 0.0  # clock time the scenario started; the schedule is relative to it

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        reader = BufferedByteReceiveStream(stream)
        async with stream:
            with contextlib.suppress(
                anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError
            ):
                while True:
                    line = await reader.receive_until(b"\n", 1 << 16)
                    if line == b".":
                        last = self.stored[-1][0] if self.stored else 0
                        await stream.send(f"ack {last}\n".encode())
                        continue
                    seq_text, value_text = line.decode().split()
                    seq = int(seq_text)
                    if self.stored and seq <= self.stored[-1][0]:
                        self.duplicates += 1  # a resend: already stored, drop it
                    else:
                        self.stored.append((seq, float(value_text)))

    async def _serve_until(self, ctx: Context, until: float) -> None:
        listener = await anyio.create_tcp_listener(local_host=HOST, local_port=self.port)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self.starts += 1
        self.ready.set()
        async with anyio.create_task_group() as tg:

            async def serve() -> None:
                async with listener:
                    await listener.serve(self._handle)

            tg.start_soon(serve)
            await ctx.clock.wait_until(until)  # killed: listener and connections go
            tg.cancel_scope.cancel()

    async def run(self, ctx: Context) -> None:
        for down_at, up_at in self.scenario.outages:
            await self._serve_until(ctx, self.t0 + down_at)
            await ctx.clock.wait_until(self.t0 + up_at)
        await self._serve_until(ctx, self.t0 + 10 * self.scenario.duration)


# -- the near side: an Outbox posting over TCP, a sensor, a watch ------------------------


class TcpLink:
    """``post`` for the Outbox: one connection, reopened lazily after any failure."""

    def __init__(self, clock: Clock, collector: Collector) -> None:
        self.clock = clock
        self.collector = collector
        self.stream: anyio.abc.SocketStream | None = None
        self.reader: BufferedByteReceiveStream | None = None

    async def post(self, batch: list[Sequenced[float]]) -> None:
        lines = "".join(f"{m.seq} {m.item!r}\n" for m in batch) + ".\n"
        try:
            if self.stream is None or self.reader is None:
                self.stream = await anyio.connect_tcp(HOST, self.collector.port)
                self.reader = BufferedByteReceiveStream(self.stream)
            await self.stream.send(lines.encode())
            ack = await self.reader.receive_until(b"\n", 256)
        except (OSError, anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
            await self.close()
            raise ConnectionError(f"collector unreachable: {exc!r}") from exc
        if ack.decode() != f"ack {batch[-1].seq}":
            await self.close()
            raise ConnectionError(f"unexpected reply {ack!r}")

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
        self.stream = self.reader = None


class Sensor(Daemon):
    """One reading per period into the Outbox; closes it when the run is over."""

    name = "sensor"

    def __init__(self, scenario: Scenario, outbox: Outbox[float]) -> None:
        self.scenario = scenario
        self.outbox = outbox
        self.sent = 0

    async def run(self, ctx: Context) -> None:
        count = round(self.scenario.duration / self.scenario.period)
        async for tick in ctx.clock.every(self.scenario.period, first="now"):
            reading = round(20.0 + 5.0 * math.sin(tick / 60.0), 3)
            await self.outbox.send(reading)
            self.sent += 1
            if self.sent >= count:
                break
        await self.outbox.aclose()


class Watch(NetworkDaemon):
    """Is the collector's port accepting connections?"""

    def __init__(self, scenario: Scenario, collector: Collector) -> None:
        super().__init__(
            name="watch",
            check_network_interval=scenario.check_interval,
            check_network_timeout=scenario.check_timeout,
            network_error_wait_time=scenario.error_wait,
            backoff=scenario.watch_backoff(),
        )
        self.collector = collector

    async def check_network(self, ctx: Context) -> NetworkStatus:
        try:
            stream = await anyio.connect_tcp(HOST, self.collector.port)
            await stream.aclose()
        except OSError:
            return NetworkStatus.NOT_CONNECTED
        return NetworkStatus.CONNECTED


# -- running it ------------------------------------------------------------------------------


async def main(clock: Clock, sim: bool) -> int:
    """The same program on either clock: under ``--sim`` the event loop itself runs on
    an autojumping SimClock, so every timer and socket wait replays in virtual time."""
    scenario = SIM if sim else WALL
    collector = Collector(scenario)
    link = TcpLink(clock, collector)
    changes: list[OutboxChange] = []

    async def on_state(change: OutboxChange) -> None:
        changes.append(change)

    outbox: Outbox[float] = Outbox(
        link.post,
        batch_size=50,
        backoff=scenario.outbox_backoff(),
        on_state=on_state,
        post_timeout=scenario.check_timeout,
    )
    sensor = Sensor(scenario, outbox)
    watch = Watch(scenario, collector)
    started = time.perf_counter()
    t0 = collector.t0 = clock.now()
    async with Supervisor(clock=clock) as sup:
        sup.add(collector)
        await collector.ready.wait()
        sup.add(outbox)
        sup.add(sensor)
        sup.add(watch)
        await clock.wait_until(t0 + scenario.duration)
        # Let the Outbox deliver what the last outage left (its last backoff may still
        # be running), bounded on the clock.
        with clock.move_on_after(scenario.duration):
            await outbox.flush()
        await sup.stop(grace=1.0)
    await link.close()
    elapsed = time.perf_counter() - started

    seqs = [seq for seq, _ in collector.stored]
    exact = seqs == list(range(1, sensor.sent + 1))
    print(f"clock: {'SimClock' if sim else 'WallClock'}; {scenario.duration:g} clock seconds")
    print(f"collector: started {collector.starts} times, killed during {list(scenario.outages)}")
    print(
        f"readings: sent {sensor.sent}, stored {len(collector.stored)}, "
        f"duplicates dropped by seq {collector.duplicates}"
    )
    print(
        f"outbox: delivered {outbox.delivered}, dropped {outbox.dropped}, "
        f"posts {outbox.posts}, failed posts {outbox.post_failures}"
    )
    print("outbox states: " + ", ".join(f"{c.time - t0:.1f} {c.new.name}" for c in changes))
    print(
        "watch: "
        + ", ".join(f"{c.time - t0:.1f} {c.new.name}" for c in watch.status_history)
        + f" (connects {watch.connects}, disconnects {watch.disconnects})"
    )
    if sim:
        print(f"replayed {scenario.duration:g} s of clock time in {elapsed:.2f} s of wall time")
    if exact and outbox.dropped == 0:
        print("OK: every reading reached the collector exactly once, in order")
        return 0
    print("FAILED: readings lost, duplicated or out of order")
    return 1


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sim", action="store_true", help="replay 10 minutes under SimClock")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    backend: Literal["asyncio", "trio"] = args.backend
    if backend == "trio":
        import trio.testing  # noqa: F401 - imported up front so the replay timing excludes it
    if args.sim:
        clock = SimClock(autojump=True)
        return clock.run(main, clock, True, backend=backend)
    return anyio.run(main, WallClock(), False, backend=backend)


if __name__ == "__main__":
    sys.exit(cli())
