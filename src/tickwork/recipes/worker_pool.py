"""Ready-worker dispatch: ``workers`` concurrent handlers fed from one stream."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from tickwork import Channel, EndOfStream, ReceiveStream, SendStream, WouldBlock, open_channel
from tickwork._validate import check_int

from ._util import SendGate, aclose_all, run_until_first_error

__all__ = ["worker_pool"]

Req = TypeVar("Req")
Resp = TypeVar("Resp")


async def worker_pool(
    incoming: ReceiveStream[Req],
    results: SendStream[Resp | Exception],
    handle: Callable[[Req], Awaitable[Resp]],
    *,
    workers: int = 1,
    worker_buffer: int = 0,
    close_results: bool = True,
) -> None:
    """Run ``handle`` on every item of ``incoming`` with ``workers`` concurrent workers.

    A dispatcher hands each item to a worker that has room: with ``worker_buffer=0``
    only to an idle worker; otherwise a worker may also hold up to ``worker_buffer``
    queued items (idle workers are still served first). Each worker sends what
    ``handle`` returns to ``results``; if ``handle`` raises an ``Exception``, the
    exception object is sent instead and the worker goes on with the next item. A
    ``BaseException`` (cancellation, ``KeyboardInterrupt``...) tears the pool down.

    Results arrive in completion order, not input order. Drain ``results``
    concurrently: a worker blocked on a full ``results`` does not take new items.
    Waiting is event-driven throughout (workers hand their slots back on a private
    channel the dispatcher waits on); nothing polls.

    Ends when ``incoming`` ends and every worker has finished; with ``close_results``
    ``results`` is closed then, and also on an error or cancellation.
    """
    check_int(workers, "workers")
    check_int(worker_buffer, "worker_buffer", minimum=0)
    # One token per free slot: a worker's index appears once per item it can take.
    slots: Channel[int] = open_channel(math.inf)
    inboxes: list[Channel[Req]] = [open_channel(worker_buffer) for _ in range(workers)]
    for _ in range(1 + worker_buffer):
        for index in range(workers):
            slots.send.send_nowait(index)
    out = SendGate(results)

    async def dispatch() -> None:
        senders = [inbox.send for inbox in inboxes]
        try:
            async for item in incoming:
                target = senders[await slots.recv.receive()]
                try:
                    target.send_nowait(item)
                except WouldBlock:
                    await target.send(item)
        finally:
            await aclose_all(senders)

    async def work(index: int, inbox: ReceiveStream[Req]) -> None:
        free = slots.send
        while True:
            try:
                item = await inbox.receive()
            except EndOfStream:
                return
            try:
                result: Resp | Exception = await handle(item)
            except Exception as exc:
                result = exc
            await out.send(result)
            free.send_nowait(index)

    try:
        await run_until_first_error(
            [dispatch, *(partial(work, index, inbox.recv) for index, inbox in enumerate(inboxes))]
        )
    finally:
        await aclose_all((slots.send, *(inbox.recv for inbox in inboxes)))
        if close_results:
            await aclose_all((results,))
