"""Issue 13: what hosting costs a busy supervisor, and how fast /metrics answers.

    uv run --frozen python bench/bench_hosting.py            # full run
    uv run --frozen python bench/bench_hosting.py --quick    # shorter, fewer daemons

What is measured (wall time, ``time.perf_counter``), on asyncio and trio:

* overhead: 1,000 daemons under one Supervisor on WallClock, each ticking every
  ``PERIOD`` (so the loop is saturated: every bit of extra work shows as fewer ticks),
  for ``DURATION`` seconds after all started. Ticks per second "plain" (no hosting)
  against "hosted": ``serve_hosting`` with the health endpoint and systemd notify to a
  datagram socket this bench binds (``WATCHDOG_USEC`` = 2 s, so a ping a second, plus
  the ``STATUS=`` evaluation each second), while a client thread GETs ``/readyz`` and
  ``/metrics`` every second (what Kubernetes and Prometheus do, at a tight period).
  The ratio hosted/plain is taken per round; target >= 0.98 (under 2% difference).
* ``/metrics`` latency with 10,000 idle daemons, GETs on one keep-alive connection
  from a worker thread; p50 and p99 of the request time. "cold": each GET a full
  render (spaced ``METRICS_MAX_AGE`` apart, as any real scraper is); "warm": GETs back
  to back, which share the render of the current period.
"""

from __future__ import annotations

import http.client
import itertools
import os
import socket
import statistics
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio

import tickwork
from _harness import (
    Case,
    Options,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    fmt_spread,
    now,
    parse_args,
    print_header,
    print_table,
    round_robin,
)
from tickwork import Context, Supervisor, WallClock
from tickwork.hosting import serve_hosting
from tickwork.hosting.http import METRICS_MAX_AGE

PERIOD = 0.01  # each daemon's tick period: 1,000 daemons ask for 100,000 ticks/s
POLL = 1.0  # the client thread's period between /readyz + /metrics pairs
WATCHDOG_USEC = 2_000_000  # a WATCHDOG=1 ping every second
HTTP_TIMEOUT = 30.0  # wall seconds; only a broken endpoint would get near it

_runs = itertools.count()

VARIANTS: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("plain", False, ()),
    ("notify + endpoint, no client", True, ()),
    ("+ /readyz each second", True, ("/readyz",)),
    ("+ /readyz and /metrics each second", True, ("/readyz", "/metrics")),
)


class _Poller:
    """A thread that GETs /readyz and /metrics every POLL seconds until stopped."""

    def __init__(self, address: str, paths: tuple[str, ...]) -> None:
        self.address = address
        self.paths = paths
        self.stop = threading.Event()
        self.requests = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT)
        try:
            while not self.stop.wait(POLL):
                for path in self.paths:
                    conn.request("GET", path)
                    conn.getresponse().read()
                    self.requests += 1
        finally:
            conn.close()


class _NotifySink:
    """A datagram socket standing in for systemd's; counts what arrives."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="tw-bench-"))
        self.path = str(self.directory / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)

    def drain(self) -> list[str]:
        got: list[str] = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return got

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)
        self.directory.rmdir()


async def ticking(
    n: int, duration: float, hosted: bool, paths: tuple[str, ...]
) -> dict[str, float]:
    """Ticks per second of ``n`` daemons for ``duration`` s, with or without hosting.

    ``paths``: what the client thread GETs every POLL seconds (nothing when empty).
    """
    ticks = [0]
    prefix = f"h{next(_runs)}-"

    @tickwork.daemon
    async def ticker(ctx: Context) -> None:
        async for _ in ctx.clock.every(PERIOD):
            ticks[0] += 1
            if ctx.stopping:
                return

    clock = WallClock()
    sink = _NotifySink() if hosted else None
    poller: _Poller | None = None
    pings = rate = 0.0
    try:
        async with anyio.create_task_group() as tg:
            async with Supervisor(clock=clock) as sup:
                for i in range(n):
                    sup.add(ticker(), name=f"{prefix}{i}")
                if sink is not None:
                    environ = {"NOTIFY_SOCKET": sink.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
                    address = await tg.start(
                        partial(serve_hosting, sup, health="127.0.0.1:0", environ=environ)
                    )
                    if paths:
                        poller = _Poller(address, paths)
                        poller.thread.start()
                await sup.wait_all_started()
                before, started = ticks[0], now()
                await clock.sleep(duration)
                rate = (ticks[0] - before) / (now() - started)
                if poller is not None:
                    poller.stop.set()
                    await anyio.to_thread.run_sync(poller.thread.join)
                if sink is not None:
                    pings = sum(m == "WATCHDOG=1" for m in sink.drain())
                await sup.stop()
            tg.cancel_scope.cancel()
    finally:
        if sink is not None:
            sink.close()
    requests = 0.0 if poller is None else float(poller.requests)
    return {"rate": rate, "pings": pings, "requests": requests}


def _scrape(address: str, count: int, spacing: float) -> list[float]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=HTTP_TIMEOUT)
    times: list[float] = []
    size = 0
    pause = threading.Event()
    try:
        for _ in range(count):
            pause.wait(spacing)
            started = now()
            conn.request("GET", "/metrics")
            reply = conn.getresponse()
            size = len(reply.read())
            times.append(now() - started)
            assert reply.status == 200, reply.status
    finally:
        conn.close()
    times.append(float(size))  # the last entry: the body's size, for the report
    return times


def _percentiles(times: list[float]) -> tuple[float, float]:
    if len(times) < 2:
        return times[0], times[0]
    return statistics.median(times), statistics.quantiles(times, n=100, method="inclusive")[98]


async def metrics_latency(n: int, cold: int, warm: int) -> dict[str, float]:
    prefix = f"m{next(_runs)}-"
    colds: list[float] = []
    warms: list[float] = []
    size = 0.0

    @tickwork.daemon
    async def idle(ctx: Context) -> None:
        await ctx.stop_event.wait()

    async with anyio.create_task_group() as tg:
        async with Supervisor() as sup:
            for i in range(n):
                sup.add(idle(), name=f"{prefix}{i}")
            address = await tg.start(
                partial(serve_hosting, sup, notify=False, health="127.0.0.1:0")
            )
            await sup.wait_all_started()
            *colds, size = await anyio.to_thread.run_sync(
                _scrape, address, cold, METRICS_MAX_AGE * 1.05
            )
            *warms, _ = await anyio.to_thread.run_sync(_scrape, address, warm, 0.0)
            await sup.stop()
        tg.cancel_scope.cancel()
    cold50, cold99 = _percentiles(colds)
    warm50, warm99 = _percentiles(warms)
    return {"cold50": cold50, "cold99": cold99, "warm50": warm50, "warm99": warm99, "bytes": size}


def _case(backend: str, contender: str, fn: Callable[[], object]) -> Case:
    def run() -> dict[str, float]:
        return anyio.run(fn, backend=backend)  # type: ignore[return-value]

    return Case(group=backend, backend=backend, contender=contender, run=run)


def main() -> None:
    options: Options = parse_args(__doc__ or "")
    daemons = 200 if options.quick else 1_000
    duration = 1.0 if options.quick else 3.0
    big = 2_000 if options.quick else 10_000
    cold, warm = (3, 20) if options.quick else (10, 100)
    print_header(
        "Issue 13: hosting overhead and /metrics latency",
        options,
        [
            f"overhead: {daemons:,} daemons ticking every {PERIOD}s for {duration}s per rep; "
            "ratio = hosted / plain ticks per second, median of per-round pairs "
            "(target >= 0.98).",
            f"/metrics: {big:,} idle daemons; per rep {cold} cold and {warm} warm scrapes.",
            f"load at start: {os.getloadavg()}",
        ],
    )
    ticks = [
        _case(backend, label, partial(ticking, daemons, duration, hosted, paths))
        for backend in options.backends
        for label, hosted, paths in VARIANTS
    ]
    round_robin(ticks, options.reps, options.warmup)
    rows: list[list[str]] = []
    for backend in options.backends:
        plain, *hosted = (c for c in ticks if c.backend == backend)
        for case in (plain, *hosted):
            mine = case is not plain
            rows.append(
                [
                    backend,
                    case.contender,
                    fmt_rate(case.median("rate")),
                    fmt_spread(case.spread("rate")),
                    fmt_ratio(case.paired_ratio(plain, "rate")) if mine else "",
                    f"{case.median('pings'):.0f}" if mine else "",
                    f"{case.median('requests'):.0f}" if mine else "",
                ]
            )
    print_table(["backend", "variant", "ticks/s", "spread", "x plain", "pings", "GETs"], rows)
    scrape_cases = [
        _case(backend, "metrics", partial(metrics_latency, big, cold, warm))
        for backend in options.backends
    ]
    round_robin(scrape_cases, options.reps, warmup=0)
    print_table(
        ["backend", "daemons", "cold p50", "cold p99", "spread", "warm p50", "warm p99", "body"],
        [
            [
                c.backend,
                f"{big:,}",
                fmt_seconds(c.median("cold50")),
                fmt_seconds(c.median("cold99")),
                fmt_spread(c.spread("cold50")),
                fmt_seconds(c.median("warm50")),
                fmt_seconds(c.median("warm99")),
                f"{c.median('bytes') / 1e6:.1f} MB",
            ]
            for c in scrape_cases
        ],
    )
    print(f"load at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
