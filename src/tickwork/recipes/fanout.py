"""1:N broadcast: ``tee`` copies every item of one stream to several destinations."""

from __future__ import annotations

from typing import Final, TypeVar

import anyio.lowlevel

from tickwork import EndOfStream, ReceiveStream, SendStream, WouldBlock
from tickwork._internals import FairnessBudget

from ._util import aclose_all, check_streams

__all__ = ["tee"]

T = TypeVar("T")

_RECHECK_EVERY: Final = 64
"""Items after which destinations that made the tee wait are tried without waiting again."""


async def tee(src: ReceiveStream[T], *dests: SendStream[T]) -> None:
    """Send every item of ``src`` to every destination, in order, until ``src`` ends.

    Backpressure is per destination and nothing is buffered inside the tee: it hands
    the item to every destination that can take it without waiting, waits (in
    argument order) for the ones that are full, and only then reads the next item. So
    the slowest destination sets the pace, and every destination sees the same items
    in the same order. No task is spawned: a single loop does all the sends.

    All destinations are closed when ``tee`` returns: at end of ``src``, when a send
    fails (a destination's receiver closed: ``ChannelClosed`` propagates), and when
    the tee is cancelled. ``src`` is not closed; it belongs to the caller.
    """
    check_streams(dests, "dests")
    targets = list(dests)
    # Destinations are tried with send_nowait ("eager") until one makes the tee wait;
    # from then on it is sent to with an awaited send ("lazy": a failing send_nowait
    # first would only cost an exception, and send() tries the fast path itself).
    # Every _RECHECK_EVERY items all are eager again. This is a scheduling heuristic
    # only: each destination gets every item, in order, either way.
    eager = targets
    lazy: list[SendStream[T]] = []
    src_lazy = False
    recheck = _RECHECK_EVERY
    budget = FairnessBudget()
    yield_due = False
    try:
        while True:
            recheck -= 1
            if recheck <= 0:
                recheck = _RECHECK_EVERY
                eager, lazy, src_lazy = targets, [], False
            if yield_due:
                # Nothing awaited for a while: yield, before taking the next item so
                # a cancellation here loses nothing.
                yield_due = False
                await anyio.lowlevel.checkpoint()
            awaited = src_lazy
            try:
                if src_lazy:
                    item = await src.receive()
                else:
                    try:
                        item = src.receive_nowait()
                    except WouldBlock:
                        src_lazy = awaited = True
                        item = await src.receive()
            except EndOfStream:
                return
            blocked: list[SendStream[T]] | None = None
            for dest in eager:
                try:
                    dest.send_nowait(item)
                except WouldBlock:
                    if blocked is None:
                        blocked = [dest]
                    else:
                        blocked.append(dest)
            if lazy:
                awaited = True
                for dest in lazy:
                    await dest.send(item)
            if blocked is not None:
                awaited = True
                for dest in blocked:
                    await dest.send(item)
                eager = [d for d in eager if all(d is not b for b in blocked)]
                lazy = [
                    d for d in targets if any(d is e for e in lazy) or any(d is b for b in blocked)
                ]
            if awaited:
                # The awaiting calls yield on their own (the channel's fairness).
                budget.refill()
            else:
                yield_due = budget.spend()
    finally:
        await aclose_all(targets)
