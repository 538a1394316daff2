"""N:1 fan-in: forward several streams into one destination."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TypeVar

from tickwork import EndOfStream, ReceiveStream, SendStream

from ._util import SendGate, aclose_all, check_streams, run_until_first_error

__all__ = ["merge"]

T = TypeVar("T")


async def merge(
    sources: Sequence[ReceiveStream[T]],
    dest: SendStream[T],
    *,
    close_dest: bool = True,
) -> None:
    """Forward every item of every source into ``dest`` until all sources end.

    One forwarding task per source keeps each source's items in order (per-source
    FIFO); items of different sources interleave in arrival order. ``dest`` is a
    single-owner endpoint, so the forwarders take turns on it through a FIFO lock
    when it is full; nobody polls.

    With ``close_dest``, ``dest`` is closed when ``merge`` returns: after every source
    has drained, and also when forwarding aborts (a source or ``dest`` raised, or the
    merge was cancelled). The first error is re-raised as is, not in a group; the
    other forwarders are cancelled. Sources are not closed; they belong to the caller.
    """
    check_streams(sources, "sources")
    gate = SendGate(dest)

    async def forward(src: ReceiveStream[T]) -> None:
        while True:
            try:
                item = await src.receive()
            except EndOfStream:
                return
            await gate.send(item)

    try:
        await run_until_first_error(partial(forward, src) for src in sources)
    finally:
        if close_dest:
            await aclose_all((dest,))
