"""Wait on several receivers at once and take one item from the first that is ready.

How it avoids losing items (ADR 0010). An item is taken from a channel when a
``receive()`` completes, and with the ``ReceiveStream`` protocol the only way to wait
for an item is to be parked in ``receive()``. So while ``select`` waits it parks one
helper receive per receiver, and when several producers send in the same scheduler
pass, several of those receives complete before any helper runs: more than one item
has been taken, and only one can be returned. Those extra items are *held over*: kept,
in order, in a per-receiver holdover that every later ``select`` over that receiver
returns first. Nothing is dropped, and per-receiver order is kept, as long as a
receiver that was passed to ``select`` is read through ``select`` afterwards (or its
holdover checked with :func:`held_over`).

When an item is ready before ``select`` waits (the common case under load) nothing
is held: ready receivers are tried with ``receive_nowait`` in a rotating order, so one
busy receiver cannot starve the others.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any, Final, TypeVar

import anyio
import anyio.lowlevel

from tickwork import EndOfStream, ReceiveStream, WouldBlock

from ._util import check_streams

__all__ = ["held_over", "select"]

T = TypeVar("T")

_HELD: Final[dict[int, tuple[ReceiveStream[Any], deque[Any]]]] = {}
"""id(receiver) -> (receiver, items taken but not yet returned). The entry keeps the
receiver alive, so its id cannot be reused while the entry exists; drained entries are
deleted at once."""

_TURN = itertools.count()


def held_over(receiver: ReceiveStream[Any]) -> int:
    """How many items ``select`` took from ``receiver`` and will return first next time."""
    entry = _HELD.get(id(receiver))
    return len(entry[1]) if entry is not None and entry[0] is receiver else 0


def _hold(receiver: ReceiveStream[Any], item: object) -> None:
    entry = _HELD.get(id(receiver))
    if entry is None:
        _HELD[id(receiver)] = (receiver, deque((item,)))
    else:
        entry[1].append(item)


def _take_held(receivers: tuple[ReceiveStream[T], ...], order: list[int]) -> tuple[int, T] | None:
    for index in order:
        receiver = receivers[index]
        entry = _HELD.get(id(receiver))
        if entry is not None and entry[0] is receiver:
            items = entry[1]
            item: T = items.popleft()
            if not items:
                del _HELD[id(receiver)]
            return index, item
    return None


async def select(*receivers: ReceiveStream[T]) -> tuple[int, T]:
    """Return ``(index, item)`` from the first of ``receivers`` that has an item.

    Receivers that are ready at once are tried in a rotating order (a different one
    first on each call), so a busy receiver cannot starve the others. Otherwise
    ``select`` waits until one receives an item. Raises :class:`tickwork.EndOfStream`
    once every receiver has ended (and nothing is held over); other errors of a
    receiver (e.g. ``ChannelClosed``) propagate. ``select`` is a checkpoint; when it is
    cancelled it returns nothing and no item is lost (see :func:`held_over`).
    """
    check_streams(receivers, "receivers")
    count = len(receivers)
    if len({id(r) for r in receivers}) != count:
        raise ValueError("receivers must be distinct endpoints; the same one was passed twice")
    first = next(_TURN) % count
    order = [(first + k) % count for k in range(count)]
    await anyio.lowlevel.checkpoint()
    if _HELD:
        held = _take_held(receivers, order)
        if held is not None:
            return held
    closed = [False] * count
    for index in order:
        try:
            return index, receivers[index].receive_nowait()
        except WouldBlock:
            continue
        except EndOfStream:
            closed[index] = True
    if all(closed):
        raise EndOfStream
    return await _wait(receivers, order, closed)


async def _wait(
    receivers: tuple[ReceiveStream[T], ...], order: list[int], closed: list[bool]
) -> tuple[int, T]:
    """Park one helper receive per open receiver; the first item wins, extras are held."""
    winner: list[tuple[int, T]] = []
    failure: list[Exception] = []

    async def wait_one(index: int, scope: anyio.CancelScope) -> None:
        receiver = receivers[index]
        try:
            item = await receiver.receive()
        except EndOfStream:
            closed[index] = True
            if all(closed):
                scope.cancel()
            return
        except Exception as exc:
            if not failure:
                failure.append(exc)
            scope.cancel()
            return
        if winner:
            _hold(receiver, item)
        else:
            winner.append((index, item))
            scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for index in order:
                if not closed[index]:
                    tg.start_soon(wait_one, index, tg.cancel_scope)
    except BaseException:
        # Cancelled from outside after an item was taken: keep it for the next call.
        for index, item in winner:
            _hold(receivers[index], item)
        raise
    if failure:
        for index, item in winner:
            _hold(receivers[index], item)
        raise failure[0]
    if winner:
        return winner[0]
    raise EndOfStream
