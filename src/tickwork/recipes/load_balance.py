"""1:N distribution: each item of one stream goes to exactly one destination."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from tickwork import ReceiveStream, SendStream, WouldBlock

from ._util import aclose_all, check_streams

__all__ = ["load_balance"]

T = TypeVar("T")


async def load_balance(
    source: ReceiveStream[T],
    dests: Sequence[SendStream[T]],
    *,
    close_dests: bool = True,
) -> None:
    """Forward each item of ``source`` to one destination, in strict round-robin order.

    Item ``k`` goes to ``dests[k % len(dests)]``, every run: when that destination is
    full the balancer waits for it rather than skipping ahead (use
    :func:`tickwork.recipes.worker_pool.worker_pool` to dispatch to whichever worker
    is free). With ``close_dests`` every destination is closed when the balancer ends:
    at the end of ``source``, on an error and on cancellation.
    """
    check_streams(dests, "dests")
    targets = list(dests)
    count = len(targets)
    index = 0
    try:
        async for item in source:
            dest = targets[index]
            index += 1
            if index == count:
                index = 0
            try:
                dest.send_nowait(item)
            except WouldBlock:
                await dest.send(item)
    finally:
        if close_dests:
            await aclose_all(targets)
