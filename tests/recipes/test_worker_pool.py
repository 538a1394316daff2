"""tickwork.recipes.worker_pool.worker_pool: ready-worker dispatch."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from tickwork import Channel, EndOfStream, SimClock, open_channel
from tickwork.recipes.worker_pool import worker_pool

from ._helpers import drain


class Fatal(BaseException):
    pass


async def test_every_item_is_handled_once_and_results_close_at_the_end() -> None:
    incoming: Channel[int] = open_channel(4)
    results: Channel[int | Exception] = open_channel(4)
    got: list[int | Exception] = []

    async def square(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return x * x

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: worker_pool(incoming.recv, results.send, square, workers=4))
        tg.start_soon(drain, results.recv, got)
        async with incoming.send:
            for i in range(100):
                await incoming.send.send(i)
    assert sorted(got) == [i * i for i in range(100)]  # type: ignore[type-var]


@pytest.mark.parametrize(("workers", "worker_buffer"), [(3, 0), (2, 1), (1, 3)])
async def test_items_go_only_to_workers_with_room(
    sim_clock: SimClock, workers: int, worker_buffer: int
) -> None:
    incoming: Channel[int] = open_channel(math.inf)
    results: Channel[int | Exception] = open_channel(math.inf)
    release = anyio.Event()
    started: list[int] = []

    async def hold(x: int) -> int:
        started.append(x)
        await release.wait()
        return x

    for i in range(20):
        incoming.send.send_nowait(i)
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: worker_pool(
                incoming.recv, results.send, hold, workers=workers, worker_buffer=worker_buffer
            )
        )
        with anyio.fail_after(10):  # a busy-waiting pool would never be idle
            await sim_clock.run_until_idle()
        # One item in hand per worker, worker_buffer queued per worker, one more in
        # the dispatcher's hands waiting for a slot; the rest stay in `incoming`.
        assert sorted(started) == list(range(workers))
        taken = workers * (1 + worker_buffer) + 1
        assert incoming.recv.statistics().current_buffer_used == 20 - taken
        release.set()
        await sim_clock.run_until_idle()
        await incoming.send.aclose()
    got: list[int | Exception] = []
    await drain(results.recv, got)
    assert sorted(got) == list(range(20))  # type: ignore[type-var]


async def test_handler_exceptions_are_sent_as_results_and_the_worker_goes_on() -> None:
    incoming: Channel[int] = open_channel(8)
    results: Channel[int | Exception] = open_channel(8)

    async def picky(x: int) -> int:
        if x % 2:
            raise ValueError(f"odd {x}")
        return x

    for i in range(6):
        incoming.send.send_nowait(i)
    await incoming.send.aclose()
    await worker_pool(incoming.recv, results.send, picky, workers=1)
    got: list[int | Exception] = []
    await drain(results.recv, got)
    assert [g for g in got if isinstance(g, int)] == [0, 2, 4]
    errors = [g for g in got if isinstance(g, Exception)]
    assert [str(e) for e in errors] == ["odd 1", "odd 3", "odd 5"]
    assert all(isinstance(e, ValueError) for e in errors)


async def test_a_base_exception_tears_the_pool_down_and_closes_results(
    sim_clock: SimClock,
) -> None:
    incoming: Channel[int] = open_channel(8)
    results: Channel[int | Exception] = open_channel(8)
    blocked = anyio.Event()

    async def handle(x: int) -> int:
        if x == 3:
            raise Fatal
        await blocked.wait()  # the other workers are mid-job when the pool dies
        return x

    for i in range(4):
        incoming.send.send_nowait(i)
    with pytest.RaisesGroup(Fatal, flatten_subgroups=True):
        await worker_pool(incoming.recv, results.send, handle, workers=4)
    with pytest.raises(EndOfStream):
        results.recv.receive_nowait()
    await sim_clock.run_until_idle()
    assert incoming.send.statistics().open_receive_streams == 1


@pytest.mark.parametrize("close_results", [True, False])
async def test_cancelling_closes_results_unless_asked_not_to(
    sim_clock: SimClock, close_results: bool
) -> None:
    incoming: Channel[int] = open_channel(0)
    results: Channel[int | Exception] = open_channel(1)

    async def ident(x: int) -> int:
        return x

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: worker_pool(
                incoming.recv, results.send, ident, workers=2, close_results=close_results
            )
        )
        await sim_clock.run_until_idle()
        tg.cancel_scope.cancel()
    stats = results.send.statistics()
    assert stats.open_send_streams == (0 if close_results else 1)


async def test_a_closed_results_channel_fails_the_pool() -> None:
    incoming: Channel[int] = open_channel(1)
    results: Channel[int | Exception] = open_channel(1)
    await results.recv.aclose()
    incoming.send.send_nowait(1)

    async def ident(x: int) -> int:
        return x

    with pytest.raises(anyio.ClosedResourceError):
        await worker_pool(incoming.recv, results.send, ident)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"workers": 0}, "workers"), ({"worker_buffer": -1}, "worker_buffer")],
)
async def test_bad_arguments_are_value_errors_naming_them(
    kwargs: dict[str, Any], name: str
) -> None:
    incoming: Channel[int] = open_channel(0)
    results: Channel[int | Exception] = open_channel(0)

    async def ident(x: int) -> int:
        return x

    with pytest.raises(ValueError, match=name):
        await worker_pool(incoming.recv, results.send, ident, **kwargs)
