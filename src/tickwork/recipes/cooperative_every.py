"""A periodic ticker that ends as soon as the supervisor asks its daemons to stop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Self, final

import anyio

from tickwork import Context
from tickwork._internals import run_on_stop

__all__ = ["cooperative_every"]


@final
class _CooperativeTicks(AsyncIterator[float]):
    """Tick times of ``ctx.clock.every(period)`` until ``ctx.stop_event`` is set."""

    __slots__ = ("_ctx", "_ticks")

    def __init__(self, ctx: Context, ticks: AsyncIterator[float]) -> None:
        self._ctx = ctx
        self._ticks = ticks

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> float:
        ctx = self._ctx
        if ctx.stopping:
            raise StopAsyncIteration
        tick: list[float] = []

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_on_stop, ctx.stop_event, tg.cancel_scope.cancel)
            tick.append(await self._ticks.__anext__())
            tg.cancel_scope.cancel()
        if not tick or ctx.stopping:
            raise StopAsyncIteration
        return tick[0]


def cooperative_every(
    ctx: Context, period: float, *, first: Literal["after", "now"] = "after"
) -> AsyncIterator[float]:
    """Like ``ctx.clock.every(period)``, but the iteration ends once ``ctx.stopping``.

    It ends without another tick both when the stop was requested before the next
    tick is due (the wait for the tick is abandoned at once, not at the tick) and
    when a stop and a tick fall due in the same instant. Ticks are
    ``start + k * period`` on ``ctx.clock``; a loop body that overruns skips the
    missed ticks. ``period <= 0`` raises ``ValueError``.
    """
    return _CooperativeTicks(ctx, ctx.clock.every(period, first=first))
