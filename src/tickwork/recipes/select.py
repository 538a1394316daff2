"""Wait on several receivers at once and take one item from the first that is ready.

``select`` never takes an item it does not return (ADR 0008). Ready receivers are
tried with ``receive_nowait`` in a rotating order, so one busy receiver cannot starve
the others. When none is ready, ``select`` waits with ``wait_ready()`` on each open
receiver, which takes nothing, and then takes exactly one item with
``receive_nowait``. However many receivers become ready in the same scheduler pass,
the items not returned stay in their channels.
"""

from __future__ import annotations

import itertools
from typing import TypeVar

import anyio
import anyio.lowlevel

from tickwork import EndOfStream, ReceiveStream, WouldBlock

from ._util import check_streams

__all__ = ["select"]

T = TypeVar("T")

_TURN = itertools.count()


async def select(*receivers: ReceiveStream[T]) -> tuple[int, T]:
    """Return ``(index, item)`` from the first of ``receivers`` that has an item.

    Receivers that are ready at once are tried in a rotating order (a different one
    first on each call). Otherwise ``select`` waits until one is ready. Raises
    :class:`tickwork.EndOfStream` once every receiver has ended; other errors of a
    receiver (e.g. ``ChannelClosed``) propagate. A checkpoint. A cancelled ``select``
    took nothing. While it waits, ``select`` is the consumer of every receiver passed
    to it: another task blocking on one of them gets ``ChannelInUse``.
    """
    check_streams(receivers, "receivers")
    count = len(receivers)
    if len({id(r) for r in receivers}) != count:
        raise ValueError("receivers must be distinct endpoints; the same one was passed twice")
    first = next(_TURN) % count
    order = [(first + k) % count for k in range(count)]
    await anyio.lowlevel.checkpoint()
    while True:
        waiting: list[ReceiveStream[T]] = []
        for index in order:
            receiver = receivers[index]
            try:
                return index, receiver.receive_nowait()
            except WouldBlock:
                waiting.append(receiver)
            except EndOfStream:
                continue  # ended receivers are ready forever: don't wait on them
        if not waiting:
            raise EndOfStream
        await _wait_any_ready(waiting)


async def _wait_any_ready(receivers: list[ReceiveStream[T]]) -> None:
    """Return once any receiver is ready (an item or its end); take nothing."""
    failure: list[Exception] = []

    async def watch(receiver: ReceiveStream[T], scope: anyio.CancelScope) -> None:
        try:
            await receiver.wait_ready()
        except Exception as exc:
            failure.append(exc)
        scope.cancel()

    async with anyio.create_task_group() as tg:
        for receiver in receivers:
            tg.start_soon(watch, receiver, tg.cancel_scope)
    if failure:
        raise failure[0]
