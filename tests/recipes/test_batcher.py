"""tickwork.recipes.batcher: dynamic batching of many callers' requests."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from tickwork import Channel, ChannelClosed, SimClock, open_channel
from tickwork.recipes.batcher import BatchError, Pending, batcher_loop, submit


class Recorder:
    """A forward() that records each batch; optionally fails or blocks."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate: anyio.Event | None = None
        self.fail_on: set[int] = set()
        self.drop_one = False

    async def __call__(self, reqs: list[int]) -> Sequence[int]:
        self.batches.append(list(reqs))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_on.intersection(reqs):
            raise RuntimeError(f"forward failed on {sorted(self.fail_on.intersection(reqs))}")
        responses = [r * 10 for r in reqs]
        return responses[:-1] if self.drop_one else responses


@pytest.mark.parametrize("maxsize", [0, 1, 16])
async def test_each_caller_gets_its_own_response_and_batches_are_bounded(maxsize: int) -> None:
    incoming: Channel[Pending[int, int]] = open_channel(maxsize)
    forward = Recorder()
    results: dict[int, int] = {}

    async def caller(i: int) -> None:
        results[i] = await submit(incoming.send, i)

    async with anyio.create_task_group() as outer:
        outer.start_soon(lambda: batcher_loop(incoming.recv, forward, max_batch=8))
        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(caller, i)
        await incoming.send.aclose()
    assert results == {i: i * 10 for i in range(100)}
    assert sorted(r for batch in forward.batches for r in batch) == list(range(100))
    assert all(1 <= len(batch) <= 8 for batch in forward.batches)
    if maxsize:
        # (A rendezvous channel holds one waiting request at a time: batches of 1.)
        assert any(len(batch) > 1 for batch in forward.batches)


async def test_the_delay_window_runs_on_the_clock(sim_clock: SimClock) -> None:
    incoming: Channel[Pending[int, int]] = open_channel(16)
    forward = Recorder()
    results: dict[int, int] = {}

    async def caller(i: int) -> None:
        results[i] = await submit(incoming.send, i)

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: batcher_loop(
                incoming.recv, forward, max_batch=4, max_queue_delay=1.0, clock=sim_clock
            )
        )
        tg.start_soon(caller, 1)
        await sim_clock.advance(0.5)
        assert forward.batches == []
        tg.start_soon(caller, 2)
        await sim_clock.advance(0.49)
        assert forward.batches == []
        await sim_clock.advance(0.01)
        assert forward.batches == [[1, 2]]
        assert results == {1: 10, 2: 20}
        # A full batch does not wait for the window.
        for i in range(3, 7):
            tg.start_soon(caller, i)
        await sim_clock.run_until_idle()
        assert len(forward.batches) == 2
        assert sorted(forward.batches[1]) == [3, 4, 5, 6]
        assert sim_clock.now() == 1.0
        await incoming.send.aclose()


async def test_a_forward_error_reaches_every_caller_of_that_batch_only() -> None:
    incoming: Channel[Pending[int, int]] = open_channel(16)
    forward = Recorder()
    forward.fail_on = {2}
    outcomes: dict[int, object] = {}

    async def caller(i: int) -> None:
        try:
            outcomes[i] = await submit(incoming.send, i)
        except RuntimeError as exc:
            outcomes[i] = exc

    clock = SimClock()
    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(caller, i)
            await clock.run_until_idle()  # queue the requests in a known order
        tg.start_soon(lambda: batcher_loop(incoming.recv, forward, max_batch=3))
        await clock.run_until_idle()
        await incoming.send.aclose()
    assert forward.batches == [[0, 1, 2], [3, 4, 5]]
    errors = [outcomes[i] for i in (0, 1, 2)]
    assert all(isinstance(e, RuntimeError) and "forward failed on [2]" in str(e) for e in errors)
    assert [outcomes[i] for i in (3, 4, 5)] == [30, 40, 50]


async def test_a_wrong_response_count_is_a_batch_error_for_each_caller() -> None:
    incoming: Channel[Pending[int, int]] = open_channel(16)
    forward = Recorder()
    forward.drop_one = True
    errors: list[BatchError] = []

    async def caller(i: int) -> None:
        try:
            await submit(incoming.send, i)
        except BatchError as exc:
            errors.append(exc)

    clock = SimClock()
    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(caller, i)
        await clock.run_until_idle()  # all three queued before the batcher starts
        tg.start_soon(lambda: batcher_loop(incoming.recv, forward))
        await clock.run_until_idle()
        await incoming.send.aclose()
    assert len(errors) == 3
    assert "returned 2 responses for a batch of 3" in str(errors[0])


async def test_cancelled_callers_do_not_break_the_batch(sim_clock: SimClock) -> None:
    incoming: Channel[Pending[int, int]] = open_channel(16)
    forward = Recorder()
    forward.gate = anyio.Event()
    results: dict[int, int] = {}

    async def caller(i: int) -> None:
        results[i] = await submit(incoming.send, i)

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as early:
            # Withdrawn before any batch is formed: left out of the batch.
            async with anyio.create_task_group() as inner:
                inner.start_soon(caller, 0)
                await sim_clock.run_until_idle()
                early.cancel()
        late_scope = anyio.CancelScope()

        async def late_caller() -> None:
            with late_scope:
                await caller(2)

        tg.start_soon(caller, 1)
        tg.start_soon(late_caller)
        tg.start_soon(caller, 3)
        await sim_clock.run_until_idle()
        tg.start_soon(lambda: batcher_loop(incoming.recv, forward, max_batch=8))
        await sim_clock.run_until_idle()
        assert [sorted(batch) for batch in forward.batches] == [[1, 2, 3]]  # not 0
        late_scope.cancel()  # cancelled while its batch is being forwarded
        await sim_clock.run_until_idle()
        forward.gate.set()
        await sim_clock.run_until_idle()
        assert results == {1: 10, 3: 30}
        await incoming.send.aclose()


async def test_a_stopped_batcher_fails_its_callers_and_refuses_new_ones(
    sim_clock: SimClock,
) -> None:
    incoming: Channel[Pending[int, int]] = open_channel(16)
    forward = Recorder()
    forward.gate = anyio.Event()  # never set: forward hangs
    errors: list[BaseException] = []

    async def caller(i: int) -> None:
        try:
            await submit(incoming.send, i)
        except (BatchError, ChannelClosed) as exc:
            errors.append(exc)

    batcher_scope = anyio.CancelScope()

    async def run_batcher() -> None:
        with batcher_scope:
            await batcher_loop(incoming.recv, forward, max_batch=1)

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller, 0)
        await sim_clock.run_until_idle()
        tg.start_soon(run_batcher)
        await sim_clock.run_until_idle()
        tg.start_soon(caller, 1)  # queued behind the hanging batch
        await sim_clock.run_until_idle()
        assert forward.batches == [[0]]
        batcher_scope.cancel()
        await sim_clock.run_until_idle()
        tg.start_soon(caller, 2)
    assert [type(e) for e in errors[:2]] == [BatchError, BatchError]
    assert "stopped before answering" in str(errors[0])
    assert isinstance(errors[2], ChannelClosed)


async def test_the_loop_ends_when_incoming_ends() -> None:
    incoming: Channel[Pending[int, int]] = open_channel(1)
    await incoming.send.aclose()
    with anyio.fail_after(5):
        await batcher_loop(incoming.recv, Recorder())


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_batch": 0}, "max_batch"),
        ({"max_queue_delay": -0.1}, "max_queue_delay"),
        ({"max_queue_delay": float("nan")}, "max_queue_delay"),
    ],
)
async def test_bad_arguments_are_value_errors_naming_them(
    kwargs: dict[str, float], name: str
) -> None:
    incoming: Channel[Pending[int, int]] = open_channel(1)
    with pytest.raises(ValueError, match=name):
        await batcher_loop(incoming.recv, Recorder(), **kwargs)  # type: ignore[arg-type]
