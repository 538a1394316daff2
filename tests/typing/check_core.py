"""Type-level tests: pyright checks this file (it is never run).

Negative cases carry a targeted ignore; ``reportUnnecessaryTypeIgnoreComment`` turns
each ignore into proof that the error really happens.
"""

from __future__ import annotations

from typing import assert_type

import tickwork
from tickwork import Channel, Context, Daemon, SimClock, open_channel


@tickwork.daemon
async def producer(ctx: Context, out: tickwork.SendStream[int], count: int) -> None:
    await out.send(count)


@tickwork.daemon(name="named")
async def consumer(ctx: Context, inbox: tickwork.ReceiveStream[int]) -> None:
    await inbox.receive()


async def check_daemon_factories() -> None:
    ch: Channel[int] = open_channel(4)
    assert_type(producer(ch.send, 3), Daemon)
    assert_type(consumer(ch.recv), Daemon)
    producer(ch.send)  # pyright: ignore[reportCallIssue]
    producer(ch.send, "three")  # pyright: ignore[reportArgumentType]


async def check_channel_types() -> None:
    ch: Channel[int] = open_channel(4)
    assert_type(await ch.recv.receive(), int)
    await ch.send.send("text")  # pyright: ignore[reportArgumentType]
    async for item in ch.recv:
        assert_type(item, int)


async def check_variance() -> None:
    ints: Channel[int] = open_channel(1)
    objects_out: tickwork.SendStream[object] = open_channel(1).send
    narrow_in: tickwork.SendStream[bool] = objects_out  # contravariant send side
    wide_out: tickwork.ReceiveStream[object] = ints.recv  # covariant receive side
    del narrow_in, wide_out


def check_clock_protocol() -> None:
    clocks: list[tickwork.Clock] = [SimClock(), tickwork.WallClock()]
    assert_type(clocks[0].now(), float)


async def check_context_supervisor_is_narrow(ctx: Context) -> None:
    sup = ctx.supervisor
    sup.signal_stop()
    await sup.stop(grace=1.0)
    await sup.wait_all_started()
    assert_type(sup.snapshot()["x"], tickwork.DaemonHealth)
    sup.add  # pyright: ignore[reportAttributeAccessIssue]  # noqa: B018 - a type check


async def check_supervisor_options() -> None:
    sup = tickwork.Supervisor(strategy="rest_for_one", max_restarts=3, period=1.0)
    tickwork.Supervisor(strategy="one_for_some")  # pyright: ignore[reportArgumentType]
    sup.add(producer(open_channel(1).send, 1), on_error="ignore", permanent=True)
