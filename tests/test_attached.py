"""Attached mode: the event loop's own time is the SimClock (SPEC section 1, Clock).

These tests start their own event loop through ``clock.run`` / ``anyio.run``, so they
are plain functions parametrised over both backends rather than async tests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import pytest

from tickwork import SimClock

BACKENDS = ["asyncio", "trio"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_fail_after_fires_at_exactly_five_seconds(backend: str) -> None:
    clock = SimClock(autojump=True)

    async def main() -> float:
        assert clock.now() == anyio.current_time() == 0.0
        with pytest.raises(TimeoutError):
            with anyio.fail_after(5):
                await anyio.sleep(10)
        return anyio.current_time()

    assert clock.run(main, backend=backend) == 5.0
    assert clock.now() == 5.0


def test_every_timer_follows_the_driven_clock(backend: str) -> None:
    clock = SimClock()
    log: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await anyio.sleep(seconds)
        log.append((name, clock.now()))

    async def scoped() -> None:
        with anyio.move_on_after(1.5) as scope:
            await anyio.sleep_forever()
        log.append(("moved on" if scope.cancelled_caught else "?", clock.now()))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper, "anyio", 1.0)
            tg.start_soon(scoped)
            tg.start_soon(clock.sleep, 2.5)
            await clock.advance(2)
            log.append(("advanced", anyio.current_time()))
            await clock.advance(1)
        log.append(("end", anyio.current_time()))

    clock.run(main, backend=backend)
    assert log == [
        ("anyio", 1.0),
        ("moved on", 1.5),
        ("advanced", 2.0),
        ("end", 3.0),
    ]


def test_asyncio_native_timers_are_virtual() -> None:
    clock = SimClock(autojump=True)
    fired: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(3, lambda: fired.append(loop.time()))
        await asyncio.sleep(1)
        fired.append(loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), 4)
        fired.append(loop.time())

    started = time.perf_counter()
    clock.run(main, backend="asyncio")
    assert fired == [1.0, 3.0, 5.0]
    assert time.perf_counter() - started < 1.0


def test_trio_native_timers_are_virtual() -> None:
    import trio

    clock = SimClock(autojump=True)
    seen: list[float] = []

    async def main() -> None:
        await trio.sleep(2)
        seen.append(trio.current_time())
        with trio.move_on_after(3):
            await trio.sleep_forever()
        seen.append(trio.current_time())

    clock.run(main, backend="trio")
    assert seen == [2.0, 5.0]


def test_backend_options_work_with_anyio_run(backend: str) -> None:
    clock = SimClock(t0=100.0, autojump=True)

    async def main(x: int) -> int:
        await anyio.sleep(0.25)
        return x * 2

    options: dict[str, Any] = clock.backend_options(backend)
    assert anyio.run(main, 21, backend=backend, backend_options=options) == 42
    assert clock.now() == 100.25


def test_a_chain_settles_before_time_moves(backend: str) -> None:
    clock = SimClock(autojump=True)
    log: list[tuple[str, float]] = []

    async def main() -> None:
        send, receive = anyio.create_memory_object_stream[int](0)

        async def relay() -> None:
            async with receive:
                async for item in receive:
                    for _ in range(500):
                        await anyio.lowlevel.checkpoint()
                    log.append((f"got {item}", clock.now()))

        async def late() -> None:
            await anyio.sleep(1)
            log.append(("late", clock.now()))

        async with anyio.create_task_group() as tg:
            tg.start_soon(relay)
            tg.start_soon(late)
            await clock.sleep(1)
            async with send:
                await send.send(1)
            await anyio.sleep(0.5)
            log.append(("after", clock.now()))

    clock.run(main, backend=backend)
    # The loop's own timer due at the same instant fires first; the chain that the
    # clock sleeper starts then runs to its end before anything else.
    assert log == [("late", 1.0), ("got 1", 1.0), ("after", 1.5)]


def test_a_clock_attaches_once(backend: str) -> None:
    clock = SimClock()
    if backend == "trio":
        clock.backend_options(backend)
    else:
        clock.backend_options(backend)["loop_factory"]().close()
    with pytest.raises(RuntimeError, match="already attached"):
        clock.backend_options(backend)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="'asyncio' or 'trio'"):
        SimClock().backend_options("curio")


def test_worker_threads_hold_the_clock_with_no_wrapper(backend: str) -> None:
    import threading

    clock = SimClock(autojump=True)
    log: list[tuple[str, float]] = []

    def slow() -> float:
        threading.Event().wait(0.05)  # real work in a real thread
        return clock.now()

    async def other() -> None:
        await anyio.sleep(0.001)
        log.append(("other", clock.now()))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            log.append(("thread saw", await anyio.to_thread.run_sync(slow)))
        if backend == "asyncio":
            loop = asyncio.get_running_loop()
            log.append(("executor saw", await loop.run_in_executor(None, slow)))

    clock.run(main, backend=backend)
    assert log[0] == ("thread saw", 0.0)
    assert log[1] == ("other", 0.001)
    if backend == "asyncio":
        assert log[2] == ("executor saw", 0.001)


def _tcp_history(backend: str) -> list[tuple[str, float]]:
    clock = SimClock(autojump=True)
    history: list[tuple[str, float]] = []

    async def main() -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def serve(stream: anyio.abc.SocketStream) -> None:
            async with stream:
                data = await stream.receive()
                history.append((f"server got {data.decode()}", clock.now()))
                await stream.send(b"pong")

        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, serve)
            for _ in range(3):
                await clock.sleep(1)
                async with await anyio.connect_tcp("localhost", port) as conn:
                    await conn.send(b"ping")
                    history.append((f"client got {(await conn.receive()).decode()}", clock.now()))
            tg.cancel_scope.cancel()

    clock.run(main, backend=backend)
    return history


def test_tcp_listener_and_connect_replay_the_same_history(backend: str) -> None:
    first = _tcp_history(backend)
    assert first == [
        (name, float(t)) for t in (1, 2, 3) for name in ("server got ping", "client got pong")
    ]
    for _ in range(19):
        assert _tcp_history(backend) == first


def test_deadlock_is_raised_naming_the_blocked_tasks(backend: str) -> None:
    from tickwork import Deadlock, TickworkError

    clock = SimClock(autojump=True)

    async def stuck_consumer(event: anyio.Event) -> None:
        await event.wait()

    async def main() -> None:
        event = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(stuck_consumer, event, name="consumer")
            await clock.sleep(2)
            await event.wait()

    started = time.perf_counter()
    with pytest.raises(Deadlock, match="stuck_consumer") as info:
        clock.run(main, backend=backend)
    assert isinstance(info.value, TickworkError)
    assert "t=2.0" in str(info.value)
    assert time.perf_counter() - started < 1.5


def test_run_until_idle_under_autojump_returns_while_sleepers_keep_running(backend: str) -> None:
    clock = SimClock(autojump=True)

    async def main() -> float:
        async def sleeper() -> None:
            while True:
                await clock.sleep(0.01)

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(sleeper)
            await clock.run_until_idle()
            await clock.sleep(1)
            tg.cancel_scope.cancel()
        return clock.now()

    assert clock.run(main, backend=backend) == 1.0


def test_io_reaches_a_task_spinning_through_a_same_instant_batch() -> None:
    """The attached asyncio selector skips its zero-timeout poll between same-instant
    wakes, but only a bounded number of times: a transport callback still runs."""
    import asyncio
    import socket

    clock = SimClock(autojump=True)
    spins = 10_000

    async def main() -> int:
        loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        got: list[bytes] = []
        loop.add_reader(reader.fileno(), lambda: got.append(reader.recv(16)))

        async def spinner() -> int:
            await clock.sleep(1)
            writer.send(b"x")
            for spin in range(spins):
                if got:
                    return spin
                await anyio.lowlevel.checkpoint()
            return spins

        async def sleeper() -> None:
            await clock.sleep(1)  # due at the same instant, after the spinner

        spun = asyncio.ensure_future(spinner())
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(200):
                    tg.start_soon(sleeper)
                await spun
        finally:
            loop.remove_reader(reader.fileno())
            reader.close()
            writer.close()
        return spun.result()

    assert clock.run(main, backend="asyncio") < spins
