"""Dynamic batching: many callers' requests become one ``forward(list)`` call.

Callers ``await submit(out, req)``; one task runs :func:`batcher_loop` over the
receiving end of the same channel. The loop takes up to ``max_batch`` requests (waiting
at most ``max_queue_delay`` clock seconds for more after the first), calls ``forward``
once with the batch, and hands each caller its response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Generic, TypeVar, cast, final

import anyio
import anyio.lowlevel

from tickwork import (
    ChannelClosed,
    Clock,
    EndOfStream,
    ReceiveStream,
    SendStream,
    TickworkError,
    WallClock,
    WouldBlock,
)
from tickwork._validate import check_int, check_seconds

__all__ = ["BatchError", "Pending", "batcher_loop", "submit"]

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class BatchError(TickworkError):
    """A batched request got no response of its own.

    Raised in every caller of a batch whose ``forward`` returned the wrong number of
    responses, and in callers whose batcher stopped (ended, failed or was cancelled)
    before it answered them.
    """


@final
class Pending(Generic[Req, Resp]):
    """One submitted request and the slot its response arrives in.

    :func:`submit` creates it; :func:`batcher_loop` resolves it. Build one yourself
    only to drive a batcher without ``submit``.
    """

    __slots__ = ("_abandoned", "_done", "_error", "_event", "_value", "req")

    def __init__(self, req: Req) -> None:
        self.req: Req = req
        self._event: anyio.Event | None = None
        self._done = False
        self._abandoned = False
        self._value: Resp | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "abandoned" if self._abandoned else "done" if self._done else "waiting"
        return f"<Pending {self.req!r} {state}>"

    @property
    def done(self) -> bool:
        """True once a response or an error was delivered."""
        return self._done

    @property
    def abandoned(self) -> bool:
        """True when the caller stopped waiting (it was cancelled); the batcher skips it."""
        return self._abandoned

    def resolve(self, value: Resp) -> None:
        """Deliver the response; later calls (and :meth:`fail`) are ignored."""
        if not self._done:
            self._done = True
            self._value = value
            if self._event is not None:
                self._event.set()

    def fail(self, error: BaseException) -> None:
        """Deliver an error the caller raises; ignored once done."""
        if not self._done:
            self._done = True
            self._error = error
            if self._event is not None:
                self._event.set()

    async def wait(self) -> Resp:
        """Wait for the response and return it, or raise the delivered error.

        If the wait is cancelled the request is marked abandoned, so a batcher that
        has not forwarded it yet leaves it out.
        """
        if not self._done:
            self._event = event = anyio.Event()
            try:
                await event.wait()
            except BaseException:
                if not self._done:
                    self._abandoned = True
                raise
        else:
            await anyio.lowlevel.checkpoint()
        if self._error is not None:
            raise self._error
        return cast("Resp", self._value)


_STOPPED: Final = "the batcher stopped before answering this request"


async def batcher_loop(
    incoming: ReceiveStream[Pending[Req, Resp]],
    forward: Callable[[list[Req]], Awaitable[Sequence[Resp]]],
    *,
    max_batch: int = 32,
    max_queue_delay: float = 0.0,
    clock: Clock | None = None,
) -> None:
    """Serve submitted requests in batches until ``incoming`` ends.

    Each batch starts with the next request. The loop then takes every request that is
    already waiting, up to ``max_batch``; with ``max_queue_delay > 0`` it waits up to
    that many seconds of ``clock`` (default :class:`tickwork.WallClock`; pass the
    daemon's ``ctx.clock`` so SimClock drives the window) for the batch to fill. Then
    it calls ``forward`` once with the requests, in arrival order, and answers:

    - ``forward`` returned one response per request: each caller gets its own.
    - ``forward`` raised an ``Exception``: every caller of the batch raises it.
    - a wrong number of responses: every caller raises :class:`BatchError`.

    A caller that was cancelled before its batch was forwarded is left out of the
    batch; one cancelled meanwhile just does not get its response. Neither affects the
    other callers. When the loop ends for any reason it answers the requests it holds
    with :class:`BatchError` and closes ``incoming``, so no caller waits forever.
    """
    check_int(max_batch, "max_batch")
    delay = check_seconds(max_queue_delay, "max_queue_delay")
    timer: Clock = clock if clock is not None else WallClock()
    held: list[Pending[Req, Resp]] = []
    try:
        while True:
            try:
                first = await incoming.receive()
            except EndOfStream:
                return
            held.append(first)
            _drain_ready(incoming, held, max_batch)
            if delay > 0 and len(held) < max_batch:
                await _fill_window(incoming, held, max_batch, timer, timer.now() + delay)
            batch = [p for p in held if not p.abandoned]
            if batch:
                await _run_batch(batch, forward)
            held.clear()
    finally:
        with anyio.CancelScope(shield=True):
            _drain_all(incoming, held)
            stopped = BatchError(_STOPPED)
            for pending in held:
                pending.fail(stopped)
            held.clear()
            await incoming.aclose()


def _drain_ready(
    incoming: ReceiveStream[Pending[Req, Resp]], held: list[Pending[Req, Resp]], limit: int
) -> None:
    while len(held) < limit:
        try:
            held.append(incoming.receive_nowait())
        except (WouldBlock, EndOfStream):
            return


def _drain_all(incoming: ReceiveStream[Pending[Req, Resp]], held: list[Pending[Req, Resp]]) -> None:
    while True:
        try:
            held.append(incoming.receive_nowait())
        except (WouldBlock, EndOfStream, ChannelClosed):
            return


async def _fill_window(
    incoming: ReceiveStream[Pending[Req, Resp]],
    held: list[Pending[Req, Resp]],
    limit: int,
    clock: Clock,
    deadline: float,
) -> None:
    """Receive until the batch is full, ``incoming`` ends, or the clock reaches ``deadline``."""

    async def alarm(scope: anyio.CancelScope) -> None:
        await clock.wait_until(deadline)
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(alarm, tg.cancel_scope)
        try:
            while len(held) < limit:
                # A receive cancelled by the alarm has taken nothing (channel contract).
                held.append(await incoming.receive())
        except EndOfStream:
            pass
        tg.cancel_scope.cancel()


async def _run_batch(
    batch: list[Pending[Req, Resp]],
    forward: Callable[[list[Req]], Awaitable[Sequence[Resp]]],
) -> None:
    try:
        responses = await forward([p.req for p in batch])
    except Exception as exc:
        for pending in batch:
            pending.fail(exc)
        return
    if len(responses) != len(batch):
        error = BatchError(
            f"forward() returned {len(responses)} responses for a batch of {len(batch)} "
            "requests; it must return exactly one response per request, in order"
        )
        for pending in batch:
            pending.fail(error)
        return
    for pending, response in zip(batch, responses, strict=True):
        pending.resolve(response)


_GATES: Final[dict[int, list[Any]]] = {}
"""id(out) -> [out, lock, users]: lets independent submitters share one send endpoint.

An entry exists only while some submitter waits on a full ``out`` (it holds ``out``
alive, so the id cannot be reused) and is deleted when the last one leaves."""


async def submit(out: SendStream[Pending[Req, Resp]], req: Req) -> Resp:
    """Submit ``req`` to the batcher reading ``out``'s channel and return its response.

    Any number of tasks may submit through the same ``out`` concurrently: when the
    channel is full they queue, first come first served, on a lock shared by the
    submitters of that endpoint, and wait to be woken (no polling). Raises what
    ``forward`` raised for this request's batch, :class:`BatchError`, or
    ``ChannelClosed`` if the batcher has stopped. Cancelling ``submit`` before the
    request is forwarded withdraws it.
    """
    pending: Pending[Req, Resp] = Pending(req)
    try:
        out.send_nowait(pending)
    except WouldBlock:
        await _send_shared(out, pending)
    return await pending.wait()


async def _send_shared(out: SendStream[Pending[Req, Resp]], pending: Pending[Req, Resp]) -> None:
    key = id(out)
    gate = _GATES.get(key)
    if gate is None:
        gate = _GATES[key] = [out, anyio.Lock(), 0]
    gate[2] += 1
    try:
        async with gate[1]:
            await out.send(pending)
    finally:
        gate[2] -= 1
        if not gate[2]:
            del _GATES[key]
