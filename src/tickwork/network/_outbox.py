"""``Outbox``: messages for a remote peer that survive outages, delivered in order."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Final, Generic, Literal, NamedTuple, Self, TypeVar, final

import anyio
import anyio.lowlevel

from tickwork import (
    ChannelClosed,
    ChannelInUse,
    ChannelStats,
    Context,
    Daemon,
    TickworkError,
    WouldBlock,
)
from tickwork._internals import FairnessBudget, run_on_stop
from tickwork._validate import check_seconds, is_instance, is_int

from ._backoff import Backoff
from ._util import race_deadline

__all__ = [
    "Outbox",
    "OutboxChange",
    "OutboxFailed",
    "OutboxFull",
    "OutboxState",
    "OverflowPolicy",
    "Sequenced",
]

T = TypeVar("T")

OverflowPolicy = Literal["block", "drop_oldest", "error"]
"""What ``Outbox.send`` does when ``maxsize`` messages are already queued."""

_POLICIES: Final = ("block", "drop_oldest", "error")

# Messages sent (or delivered) without a wait before ``send`` (or the daemon) yields
# anyway: the channel's own interval (ADR 0003), so neither a producer nor a catch-up
# through a ``post`` that never awaits can starve other tasks for long.


@final
class OutboxState(Enum):
    """The delivery daemon's view of the link; each change fires the ``on_state`` callback.

    ``STARTED`` when the daemon begins; ``CONNECTING`` during the first ``connect``;
    ``CONNECTED`` once it succeeded (steady state); ``DISCONNECTED`` after a post or
    connect raised (messages now wait in the buffer); ``RECONNECTING`` while retrying
    after the backoff delay (``connect``, then the failed batch again);
    ``CATCHING_UP`` while the messages buffered during the outage are replayed;
    ``RECONNECTED`` once they are all delivered (steady state again); ``FAILED`` when
    ``max_attempts`` consecutive attempts failed (the daemon then raises OutboxFailed).
    """

    STARTED = "started"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    CATCHING_UP = "catching_up"
    RECONNECTED = "reconnected"
    FAILED = "failed"


@final
class OutboxChange(NamedTuple):
    """One state change: at clock ``time`` the Outbox went ``old`` -> ``new``.

    ``old`` is None only for the very first ``STARTED``.
    """

    time: float
    old: OutboxState | None
    new: OutboxState


@final
@dataclass(frozen=True, slots=True)
class Sequenced(Generic[T]):
    """A message as ``post`` receives it: ``item`` with the sequence number ``seq``.

    ``seq`` is assigned once, when the Outbox accepts the message (1, 2, 3, ...), and
    is the same on every resend, so the far side can drop any ``seq`` it has already
    seen. A gap in the numbers means messages were dropped by the overflow policy.
    """

    seq: int
    item: T


class OutboxFull(TickworkError):
    """``send`` on a full Outbox whose overflow policy is ``"error"``.

    The message was not accepted (it got no sequence number) and is counted in
    ``dropped``. Use ``overflow="block"`` to wait for room or ``"drop_oldest"`` to evict.
    """

    def __init__(self, name: str, maxsize: int) -> None:
        super().__init__(
            f"outbox {name!r} is full ({maxsize} messages queued while the peer is "
            "unreachable or slow); the message was rejected. Raise maxsize, or choose "
            "overflow='block' (wait for room) or 'drop_oldest' (evict the oldest)"
        )
        self.outbox = name


class OutboxFailed(TickworkError):
    """The Outbox gave up after ``max_attempts`` consecutive failed attempts.

    Raised from the delivery daemon's ``run`` (so the supervisor's ``on_error`` policy
    applies); the cause is the last post/connect error. Nothing buffered is lost: run
    the Outbox again (e.g. ``on_error="restart"``) and delivery resumes in order.
    """

    def __init__(self, name: str, attempts: int) -> None:
        super().__init__(
            f"outbox {name!r} failed {attempts} consecutive delivery attempts "
            "(max_attempts); its messages stay buffered for the next run"
        )
        self.outbox = name


PostFn = Callable[[list[Sequenced[T]]], Awaitable[None]]
ConnectFn = Callable[[], Awaitable[None]]
StateCallback = Callable[[OutboxChange], Awaitable[None]]


@final
class Outbox(Daemon, Generic[T]):
    """A ``SendStream[T]`` for the application and the daemon that delivers it.

    The application sends into the Outbox (``await outbox.send(x)``); the Outbox, run
    as a daemon (``sup.add(outbox)``), delivers messages in order through
    ``await post(batch)``, where ``batch`` is a list of :class:`Sequenced` items of at
    most ``batch_size``. When ``post`` (or the optional ``connect``) raises, the
    Outbox keeps the batch, buffers new messages (at most ``maxsize`` queued;
    ``overflow`` says what happens beyond), waits ``backoff`` on ``ctx.clock``,
    reconnects, retries the failed batch first, then replays the backlog in batches
    (``CATCHING_UP``) before any newer message.

    Guarantee: every accepted message is posted successfully exactly once and in
    order while the process lives; a post that raised is retried, never skipped. A post
    that delivered part of a batch and then raised leads to a resend; the far side
    drops duplicates by ``seq``. ``post_timeout`` (clock seconds) bounds one post.

    Send side: single owner like any channel endpoint (a second task blocking in
    ``send`` gets ChannelInUse); ``aclose()`` ends the daemon once everything held is
    delivered. ``await outbox.flush()`` waits until everything accepted so far is posted.
    On supervisor stop, it keeps delivering until the buffer is empty or the supervisor
    cancels it (after ``grace``); what is left is logged with its count and sequence
    range, and stays buffered for a next run.
    """

    def __init__(
        self,
        post: PostFn[T],
        *,
        maxsize: int = 10_000,
        overflow: OverflowPolicy = "block",
        batch_size: int = 100,
        backoff: Backoff | None = None,
        connect: ConnectFn | None = None,
        on_state: StateCallback | None = None,
        post_timeout: float | None = None,
        max_attempts: int | None = None,
        name: str = "outbox",
        history_limit: int = 1000,
    ) -> None:
        if not callable(post):
            raise TypeError(f"Outbox post must be an async function taking a batch, got {post!r}")
        for label, value in (("connect", connect), ("on_state", on_state)):
            if value is not None and not callable(value):
                raise TypeError(f"Outbox {label} must be an async function or None, got {value!r}")
        for label, value, least in (
            ("maxsize", maxsize, 1),
            ("batch_size", batch_size, 1),
            ("history_limit", history_limit, 1),
        ):
            if not is_int(value):
                raise TypeError(f"Outbox {label} must be an int, got {value!r}")
            if value < least:
                raise ValueError(f"Outbox {label} must be >= {least}, got {value!r}")
        if overflow not in _POLICIES:
            raise ValueError(
                f"Outbox overflow must be one of {', '.join(_POLICIES)}; got {overflow!r}"
            )
        if max_attempts is not None:
            if not is_int(max_attempts):
                raise TypeError(f"Outbox max_attempts must be an int or None, got {max_attempts!r}")
            if max_attempts < 1:
                raise ValueError(f"Outbox max_attempts must be >= 1 or None, got {max_attempts!r}")
        if backoff is None:
            backoff = Backoff()
        elif not is_instance(backoff, Backoff):
            raise TypeError(f"Outbox backoff must be a tickwork.network.Backoff, got {backoff!r}")
        if backoff.min <= 0:
            raise ValueError(
                f"Outbox backoff.min must be > 0 seconds (0 retries in a busy loop), "
                f"got {backoff.min!r}"
            )
        self._post_timeout = (
            None
            if post_timeout is None
            else check_seconds(post_timeout, "Outbox.post_timeout", minimum=0.0)
        )
        if not is_instance(name, str) or not name:
            raise ValueError(f"Outbox name must be a non-empty str, got {name!r}")
        self.name = name
        self._post = post
        self._connect = connect
        self._on_state = on_state
        self._maxsize = maxsize
        self._overflow: OverflowPolicy = overflow
        self._batch_size = batch_size
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._queue: deque[Sequenced[T]] = deque()
        self._inflight: list[Sequenced[T]] = []
        self._next_seq = 1
        self._closed = False
        self._data_waiter: anyio.Event | None = None
        self._space_waiter: anyio.Event | None = None
        self._budget = FairnessBudget()
        self._post_budget = FairnessBudget()
        self._last_posted = 0
        self._state: OutboxState | None = None
        self._history: deque[OutboxChange] = deque(maxlen=history_limit)
        self._catch_up_to = 0
        self._failures_in_row = 0
        self._running = False
        self._accepted = 0
        self._delivered = 0
        self._delivered_seq = 0
        self._dropped = 0
        self._posts = 0
        self._post_failures = 0
        self._last_error: BaseException | None = None
        self._flush_waiters: list[tuple[int, anyio.Event]] = []

    def __repr__(self) -> str:
        state = self._state.name if self._state is not None else "not started"
        return (
            f"<Outbox {self.name!r} {state}, {self.pending} pending, "
            f"{self._delivered} delivered, {self._dropped} dropped>"
        )

    # -- observability --------------------------------------------------------------

    @property
    def state(self) -> OutboxState | None:
        """The current state, or None before the delivery daemon first ran."""
        return self._state

    @property
    def state_history(self) -> list[OutboxChange]:
        """Recent state changes, oldest first (bounded by ``history_limit``)."""
        return list(self._history)

    @property
    def accepted(self) -> int:
        """Messages accepted by ``send`` (each got a sequence number)."""
        return self._accepted

    @property
    def delivered(self) -> int:
        """Messages in batches whose ``post`` returned."""
        return self._delivered

    @property
    def dropped(self) -> int:
        """Messages lost to the overflow policy: evicted (drop_oldest) or rejected (error)."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Messages accepted and not yet delivered (queued plus the batch in flight)."""
        return len(self._queue) + len(self._inflight)

    @property
    def last_seq(self) -> int:
        """Sequence number of the last accepted message (0 before the first)."""
        return self._next_seq - 1

    @property
    def posts(self) -> int:
        """Calls to ``post``, successful or not."""
        return self._posts

    @property
    def post_failures(self) -> int:
        """Calls to ``post`` or ``connect`` that raised or timed out."""
        return self._post_failures

    @property
    def last_error(self) -> BaseException | None:
        """The most recent exception from ``post`` or ``connect``."""
        return self._last_error

    @property
    def maxsize(self) -> int:
        """How many messages may wait in the queue (the batch in flight not counted)."""
        return self._maxsize

    @property
    def overflow(self) -> OverflowPolicy:
        """The overflow policy: ``"block"``, ``"drop_oldest"`` or ``"error"``."""
        return self._overflow

    # -- the send side (SendStream[T]) ------------------------------------------------------

    def send_nowait(self, item: T, /) -> None:
        """Accept ``item`` now, or apply the overflow policy when the queue is full.

        Full queue: ``"block"`` raises WouldBlock, ``"error"`` raises OutboxFull,
        ``"drop_oldest"`` evicts the oldest queued message. ChannelClosed after close.
        """
        if self._closed:
            raise ChannelClosed(f"send on outbox {self.name!r} after it was closed")
        queue = self._queue
        if len(queue) >= self._maxsize:
            if self._overflow == "block":
                raise WouldBlock
            self._dropped += 1
            if self._overflow == "error":
                raise OutboxFull(self.name, self._maxsize)
            queue.popleft()
            self._wake_flushed()
        queue.append(Sequenced(self._next_seq, item))
        self._next_seq += 1
        self._accepted += 1
        waiter = self._data_waiter
        if waiter is not None:
            self._data_waiter = None
            waiter.set()

    async def send(self, item: T, /) -> None:
        """Accept ``item``, waiting for room under ``"block"``; cancellation-safe."""
        if self._budget.spend():
            await anyio.lowlevel.checkpoint()
        while True:
            try:
                self.send_nowait(item)
            except WouldBlock:
                pass
            else:
                return
            if self._space_waiter is not None:
                raise ChannelInUse("sending")
            waiter = self._space_waiter = anyio.Event()
            try:
                await waiter.wait()
            finally:
                if self._space_waiter is waiter:
                    self._space_waiter = None

    def close(self) -> None:
        """Close the send side; the daemon delivers what is held, then returns."""
        self._closed = True
        for waiter in (self._data_waiter, self._space_waiter):
            if waiter is not None:
                waiter.set()
        self._data_waiter = self._space_waiter = None

    async def aclose(self) -> None:
        """Close the send side (see :meth:`close`); a checkpoint."""
        self.close()
        await anyio.lowlevel.checkpoint()

    def statistics(self) -> ChannelStats:
        """Held messages, capacity and parked tasks, as for any channel endpoint."""
        return ChannelStats(
            current_buffer_used=self.pending,
            max_buffer_size=self._maxsize,
            open_send_streams=0 if self._closed else 1,
            open_receive_streams=1 if self._running else 0,
            waiters_send=0 if self._space_waiter is None else 1,
            waiters_receive=0 if self._data_waiter is None else 1,
        )

    async def flush(self) -> None:
        """Return once every message accepted before this call has been posted.

        Messages the overflow policy dropped count as done (they will never be posted).
        Waits as long as delivery takes (an outage included); cancel it to give up.
        """
        target = self._next_seq - 1
        if self._oldest_held() > target:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        self._flush_waiters.append((target, event))
        await event.wait()

    def _oldest_held(self) -> float:
        """Sequence number of the oldest message not yet posted (inf when none)."""
        if self._inflight:
            return self._inflight[0].seq
        if self._queue:
            return self._queue[0].seq
        return math.inf

    def _wake_flushed(self) -> None:
        if not self._flush_waiters:
            return
        oldest = self._oldest_held()
        keep: list[tuple[int, anyio.Event]] = []
        for target, event in self._flush_waiters:
            if oldest > target:
                event.set()
            else:
                keep.append((target, event))
        self._flush_waiters = keep

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the delivery daemon --------------------------------------------------------------

    async def run(self, ctx: Context) -> None:
        """Deliver until the send side is closed (or a stop arrives) and nothing is held."""
        if self._running:
            raise RuntimeError(
                f"outbox {self.name!r} is already being delivered by another run; add "
                "each Outbox to one supervisor once"
            )
        self._running = True
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run_on_stop, ctx.stop_event, self._wake_on_stop)
                await self._deliver(ctx)
                tg.cancel_scope.cancel()
        finally:
            self._running = False
            self._report_undelivered(ctx)

    def _report_undelivered(self, ctx: Context) -> None:
        """Say what is still held when delivery ends early: never drop it silently."""
        held = self.pending
        if not held:
            return
        first = int(self._oldest_held())
        ctx.logger.warning(
            "outbox %r: delivery ended with %d messages undelivered (seq %d..%d); "
            "they stay buffered for the next run of this Outbox",
            self.name,
            held,
            first,
            self.last_seq,
        )

    def _wake_on_stop(self) -> None:
        waiter = self._data_waiter
        if waiter is not None:
            self._data_waiter = None
            waiter.set()

    def _finished(self, ctx: Context) -> bool:
        return (self._closed or ctx.stopping) and not self._queue and not self._inflight

    async def _deliver(self, ctx: Context) -> None:
        self._backoff.reset()
        self._failures_in_row = 0
        await self._transition(ctx, OutboxState.STARTED)
        await self._transition(ctx, OutboxState.CONNECTING)
        up = await self._try_connect(ctx)
        await self._transition(ctx, OutboxState.CONNECTED if up else OutboxState.DISCONNECTED)
        while True:
            if up:
                if await self._pump(ctx):
                    return
                up = False
                await self._transition(ctx, OutboxState.DISCONNECTED)
                continue
            if self._finished(ctx):
                return
            if self._max_attempts is not None and self._failures_in_row >= self._max_attempts:
                await self._transition(ctx, OutboxState.FAILED)
                raise OutboxFailed(self.name, self._failures_in_row) from self._last_error
            await ctx.clock.sleep(self._backoff.next())
            await self._transition(ctx, OutboxState.RECONNECTING)
            if not await self._try_connect(ctx) or (
                self._inflight and not await self._post_inflight(ctx)
            ):
                await self._transition(ctx, OutboxState.DISCONNECTED)
                continue
            self._backoff.reset()
            up = True
            if self._queue:
                self._catch_up_to = self._queue[-1].seq
                await self._transition(ctx, OutboxState.CATCHING_UP)
            else:
                await self._transition(ctx, OutboxState.RECONNECTED)

    async def _pump(self, ctx: Context) -> bool:
        """Post batches while the link is up; True when done, False after a failure."""
        queue = self._queue
        while True:
            if self._state is OutboxState.CATCHING_UP and self._caught_up():
                await self._transition(ctx, OutboxState.RECONNECTED)
            if not self._inflight:
                if not queue:
                    if self._closed or ctx.stopping:
                        return True
                    waiter = self._data_waiter = anyio.Event()
                    await waiter.wait()
                    continue
                count = min(self._batch_size, len(queue))
                if self._state is OutboxState.CATCHING_UP:
                    # Queued seqs are consecutive; stop the batch at the backlog's end.
                    count = min(count, self._catch_up_to - queue[0].seq + 1)
                self._inflight = [queue.popleft() for _ in range(count)]
                space = self._space_waiter
                if space is not None:
                    self._space_waiter = None
                    space.set()
            # A batch left over from a failed run (before a restart) goes first.
            if not await self._post_inflight(ctx):
                return False
            # A post that never yields must not starve other tasks through a long
            # catch-up: yield once every FAIRNESS_INTERVAL messages delivered.
            if self._post_budget.spend(self._last_posted):
                await anyio.lowlevel.checkpoint()

    def _caught_up(self) -> bool:
        """True once nothing accepted before the reconnect is still held."""
        held = self._inflight or self._queue
        return not held or held[0].seq > self._catch_up_to

    async def _post_inflight(self, ctx: Context) -> bool:
        batch = list(self._inflight)
        self._posts += 1
        if self._post_timeout is None:
            try:
                await self._post(batch)
            except Exception as exc:
                return self._attempt_failed(ctx, "post", exc)
        else:
            outcome = await race_deadline(ctx.clock, self._post_timeout, lambda: self._post(batch))
            if outcome.timed_out:
                return self._attempt_failed(
                    ctx, "post", TimeoutError(f"post took longer than {self._post_timeout}s")
                )
            if outcome.error is not None:
                return self._attempt_failed(ctx, "post", outcome.error)
        self._inflight = []
        self._last_posted = len(batch)
        self._delivered += len(batch)
        self._delivered_seq = batch[-1].seq
        self._failures_in_row = 0
        self._wake_flushed()
        return True

    async def _try_connect(self, ctx: Context) -> bool:
        if self._connect is None:
            return True
        try:
            await self._connect()
        except Exception as exc:
            return self._attempt_failed(ctx, "connect", exc)
        return True

    def _attempt_failed(self, ctx: Context, what: str, exc: Exception) -> bool:
        self._post_failures += 1
        self._failures_in_row += 1
        self._last_error = exc
        ctx.logger.warning(
            "outbox %r: %s raised %s: %s; %d messages held, retrying after backoff",
            self.name,
            what,
            type(exc).__name__,
            exc,
            self.pending,
        )
        return False

    async def _transition(self, ctx: Context, new: OutboxState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        change = OutboxChange(ctx.clock.now(), old, new)
        self._history.append(change)
        ctx.logger.debug("outbox %r: %s -> %s", self.name, old and old.name, new.name)
        if self._on_state is not None:
            try:
                await self._on_state(change)
            except Exception as exc:
                ctx.logger.error(
                    "outbox %r: on_state callback raised %s: %s",
                    self.name,
                    type(exc).__name__,
                    exc,
                    exc_info=exc,
                )
