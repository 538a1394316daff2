"""Attached mode: event loops whose own time is a SimClock, through public loop hooks.

asyncio: a ``SelectorEventLoop`` subclass whose ``time()`` is the clock's, whose
``call_at`` reports each timer to the clock (so the clock knows the loop's next
deadline and can jump to it), whose ``run_in_executor`` counts thread work in flight
(time holds still meanwhile), and whose selector never waits in real time for a
virtual deadline. trio: a ``trio.abc.Clock`` reading the SimClock, plus an instrument
that makes same-instant scheduling a function of the clock's seed for the whole run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import selectors
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

from ._clock import NS_PER_SECOND

if TYPE_CHECKING:
    import trio
    from _typeshed import FileDescriptorLike

__all__ = ["AttachedHost", "LoopTimers", "SimEventLoop", "make_trio_clock", "trio_instrument"]

T = TypeVar("T")

REAL_WAIT_CAP: Final = 0.5
"""Longest real-time wait (seconds) of an idle attached loop before it looks again.

The loop waits in real time only for what real time brings (I/O, thread results); the
cap bounds how long an idle program goes without its clock re-checking for deadlock.
"""

MAX_SKIPPED_POLLS: Final = 64
"""Zero-timeout I/O polls the attached selector skips in a row between same-instant
wakes. Bounded, so a task that spins on checkpoints waiting for a transport callback
still sees its I/O; large enough that the poll's syscall is amortised."""

COMPACT_MIN: Final = 64
"""Loop timers kept before cancelled ones are swept (amortised O(1) per timer)."""

TRIO_IDLE_SLEEP: Final = 999_999_999.0
"""What the trio clock answers for a future deadline: virtual time never moves by
waiting, so the run waits for I/O, a thread or a wake from the clock itself."""


@final
@dataclass(frozen=True, slots=True)
class AttachedHost:
    """What an attached loop needs from its SimClock: the clock's private callbacks
    (ADR 0027)."""

    now: Callable[[], float]
    now_ns: Callable[[], int]
    loop_timer_added: Callable[[], None]
    """A loop timer was scheduled: an idle jump drive may now have somewhere to go."""
    thread_work: Callable[[int], None]
    """An executor job started (+1) or ended (-1)."""
    idle_wait_expired: Callable[[], None]
    """The attached loop waited in real time and nothing arrived."""
    io_poll_skippable: Callable[[], bool]
    """A drive is waking timers due now: the loop need not poll I/O between them."""
    trio_wants_deadline: Callable[[], bool]
    """The attached trio run is idle with a deadline ahead: start autojump lazily."""


@final
class LoopTimers:
    """The asyncio loop's timers as the clock sees them: the earliest one not cancelled."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.TimerHandle]] = []
        self._seq = itertools.count()

    def add(self, handle: asyncio.TimerHandle) -> None:
        heap = self._heap
        heapq.heappush(heap, (handle.when(), next(self._seq), handle))
        if len(heap) >= COMPACT_MIN and len(heap) & (len(heap) - 1) == 0:
            # At each power of two, sweep cancelled timers (anyio cancels many).
            self._heap = [item for item in heap if not item[2].cancelled()]
            heapq.heapify(self._heap)

    def next_after_ns(self, now_ns: int) -> int | None:
        """Nanosecond instant of the earliest live timer due after ``now_ns``, or None."""
        heap = self._heap
        now = now_ns / NS_PER_SECOND
        while heap and (heap[0][2].cancelled() or heap[0][0] <= now):
            heapq.heappop(heap)
        if not heap:
            return None
        return max(math.ceil(heap[0][0] * NS_PER_SECOND), now_ns + 1)


@final
class _SimSelector(selectors.BaseSelector):
    """The real selector, except that a wait for a virtual deadline never waits.

    asyncio passes a positive timeout only when no callback is ready, i.e. when the
    loop is quiescent; the next virtual deadline is then reached by the clock (when
    driven or autojumping), never by sleeping. A real wait happens only for what real
    time brings (I/O, thread results), capped so the clock can look for deadlock.
    """

    def __init__(self, host: AttachedHost) -> None:
        self._real = selectors.DefaultSelector()
        self._host = host
        self._skipped = 0  # zero-timeout polls skipped in a row

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:
            if self._skipped < MAX_SKIPPED_POLLS and self._host.io_poll_skippable():
                self._skipped += 1
                return []  # same-instant wakes: no syscall; polled before time moves
            self._skipped = 0
            return self._real.select(0)
        events = self._real.select(REAL_WAIT_CAP)
        if not events:
            self._host.idle_wait_expired()
        return events

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()


class SimEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock is a SimClock (public overrides only)."""

    def __init__(self, host: AttachedHost, timers: LoopTimers) -> None:
        self._tickwork_host = host
        self._tickwork_timers = timers
        super().__init__(_SimSelector(host))

    def time(self) -> float:
        return self._tickwork_host.now()

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Any = None,
    ) -> asyncio.TimerHandle:
        handle = super().call_at(when, callback, *args, context=context)
        self._tickwork_timers.add(handle)
        self._tickwork_host.loop_timer_added()
        return handle

    def run_in_executor(
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        host = self._tickwork_host
        host.thread_work(1)
        future.add_done_callback(lambda _: host.thread_work(-1))
        return future


def make_trio_clock(host: AttachedHost) -> trio.abc.Clock:
    """A ``trio.abc.Clock`` whose time is ``host``'s virtual time."""
    import trio

    @final
    class _TrioSimClock(trio.abc.Clock):
        def start_clock(self) -> None:
            pass

        def current_time(self) -> float:
            return host.now()

        def deadline_to_sleep_time(self, deadline: float) -> float:
            if deadline <= host.now():
                return 0.0
            if host.trio_wants_deadline():
                return 0.0  # a task was just spawned to move the time: run it
            return TRIO_IDLE_SLEEP

    return _TrioSimClock()


def trio_instrument(on_start: Callable[[], object], on_end: Callable[[], object]) -> Any:
    """A trio instrument calling ``on_start`` / ``on_end`` around the whole run."""
    import trio

    @final
    class _RunHooks(trio.abc.Instrument):
        def before_run(self) -> None:
            on_start()

        def after_run(self) -> None:
            on_end()

    return _RunHooks()
