"""Deadlock under a detached autojump SimClock (one made inside a running loop).

Attached runs report a deadlock through ``clock.run`` (tests/test_attached.py).
Detached, asyncio raises it in the task that made the clock, at the await where it
is stuck; trio raises it in the clock's autojump system task, so the run ends with
``TrioInternalError`` caused by it (ADR 0041).
"""

from __future__ import annotations

import asyncio
import time

import anyio
import anyio.lowlevel
import pytest

from tickwork import Deadlock, SimClock

BACKENDS = ("asyncio", "trio")
SAFETY_NET = 10.0
"""Real seconds after which a hung test fails instead of hanging (never reached)."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _stuck_program() -> float:
    """Sleeps 3 virtual seconds, then waits on events nobody sets; returns ``now()``."""
    clock = SimClock(autojump=True)
    never = anyio.Event()

    async def stuck_consumer() -> None:
        await clock.sleep(1)
        await never.wait()

    with anyio.fail_after(SAFETY_NET):  # detached: real time
        async with anyio.create_task_group() as tg:
            tg.start_soon(stuck_consumer, name="consumer")
            await clock.sleep(3)
            await never.wait()
    return clock.now()


def _deadlock_in(error: BaseException) -> Deadlock | None:
    """The Deadlock inside ``error`` (an exception group, or the cause of trio's error)."""
    if isinstance(error, Deadlock):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _deadlock_in(inner)
            if found is not None:
                return found
    cause = error.__cause__
    return None if cause is None else _deadlock_in(cause)


def test_detached_autojump_deadlock_is_raised_naming_the_blocked_tasks(backend: str) -> None:
    started = time.perf_counter()
    try:
        anyio.run(_stuck_program, backend=backend)
    except Exception as exc:  # a group (asyncio) or TrioInternalError (trio)
        raised = exc
    else:
        pytest.fail("the stuck program returned")
    assert time.perf_counter() - started < SAFETY_NET / 2
    error = _deadlock_in(raised)
    assert error is not None, f"no Deadlock in {raised!r}"
    message = str(error)
    assert "t=3.0" in message
    assert "stuck_consumer" in message
    assert "_stuck_program" in message
    if backend == "trio":
        import trio

        assert isinstance(raised, trio.TrioInternalError)


def test_detached_autojump_with_work_left_is_no_deadlock(backend: str) -> None:
    async def main() -> float:
        clock = SimClock(autojump=True)
        done = anyio.Event()

        async def worker() -> None:
            await clock.sleep(100)
            done.set()

        with anyio.fail_after(SAFETY_NET):
            async with anyio.create_task_group() as tg:
                tg.start_soon(worker)
                await done.wait()
        return clock.now()

    assert anyio.run(main, backend=backend) == 100.0


def test_asyncio_task_future_waiter_is_observable() -> None:
    """Canary for ADR 0041: a suspended asyncio task names the future it waits for."""

    async def main() -> None:
        future = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(asyncio.wait_for(future, None))
        await anyio.lowlevel.checkpoint()
        inner = getattr(task, "_fut_waiter", None)
        assert inner is future
        future.set_result(None)
        await task

    asyncio.run(main())
