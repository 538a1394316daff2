"""Helpers shared by the recipes: argument checks and closing endpoints under cancellation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar

import anyio

from tickwork import SendStream, WouldBlock

__all__ = [
    "SendGate",
    "aclose_all",
    "check_streams",
    "run_until_first_error",
]

T = TypeVar("T")


class _Closable(Protocol):
    async def aclose(self) -> None: ...


def check_streams(streams: object, name: str) -> None:
    """Reject an empty list of endpoints with a ValueError naming ``name``."""
    if not streams:
        raise ValueError(f"{name} must name at least one channel endpoint, got none")


async def aclose_all(streams: Iterable[_Closable]) -> None:
    """Close every stream, shielded from cancellation; re-raise the first close error.

    Shielded because it runs in ``finally`` blocks of recipes that are being cancelled:
    the downstream consumers must still see end-of-stream. Every stream is closed even
    when an earlier one fails to close.
    """
    first: BaseException | None = None
    with anyio.CancelScope(shield=True):
        for stream in streams:
            try:
                await stream.aclose()
            except Exception as exc:
                if first is None:
                    first = exc
    if first is not None:
        raise first


class SendGate(Generic[T]):
    """Lets several tasks of one recipe send into one single-owner endpoint.

    An item that fits goes straight in (``send_nowait``); otherwise the sender queues
    on a FIFO lock so at most one task at a time blocks in ``send()``, which is what
    the endpoint's single-owner rule requires. Nobody spins.
    """

    __slots__ = ("_lock", "_out")

    def __init__(self, out: SendStream[T]) -> None:
        self._out = out
        self._lock = anyio.Lock()

    async def send(self, item: T) -> None:
        if not self._lock.locked():
            try:
                self._out.send_nowait(item)
            except WouldBlock:
                pass
            else:
                return
        async with self._lock:
            await self._out.send(item)


async def run_until_first_error(jobs: Iterable[Callable[[], Awaitable[object]]]) -> None:
    """Run each job in its own task and wait for all of them.

    The first ``Exception`` cancels the other jobs and is re-raised on its own, not
    wrapped in an ``ExceptionGroup``: a recipe has one failure to report. A
    ``BaseException`` (cancellation, ``KeyboardInterrupt``) propagates as anyio raises it.
    """
    failure: list[Exception] = []

    async def guard(job: Callable[[], Awaitable[object]], scope: anyio.CancelScope) -> None:
        try:
            await job()
        except Exception as exc:
            if not failure:
                failure.append(exc)
            scope.cancel()

    async with anyio.create_task_group() as tg:
        for job in jobs:
            tg.start_soon(guard, job, tg.cancel_scope)
    if failure:
        raise failure[0]
