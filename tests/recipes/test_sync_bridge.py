"""tickwork.recipes.sync_bridge.host_async_dispatcher: sync code calls into a supervisor.

These tests are synchronous on purpose: the bridge runs its own event loop on its own
thread, once per backend. Real time is used only for the thread handshake.
"""

from __future__ import annotations

import threading

import anyio
import pytest

from tickwork import (
    Channel,
    Context,
    Daemon,
    DaemonError,
    ReceiveStream,
    SendStream,
    Supervisor,
    daemon,
)
from tickwork import open_channel as open_tickwork_channel
from tickwork.recipes.sync_bridge import host_async_dispatcher

BACKENDS = ["asyncio", "trio"]


class Dispatcher:
    def __init__(self, send: SendStream[int]) -> None:
        self._send = send
        self.handled: list[int] = []
        self.loop_thread: int | None = None

    async def push(self, item: int) -> None:
        self.loop_thread = threading.get_ident()
        await self._send.send(item)


@daemon
async def consumer(ctx: Context, recv: ReceiveStream[int], into: list[int], log: list[str]) -> None:
    try:
        async for item in recv:
            if item < 0:
                raise RuntimeError(f"bad item {item}")
            into.append(item)
    finally:
        log.append("consumer ended")


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_code_calls_into_the_supervisor_and_exit_stops_it(backend: str) -> None:
    log: list[str] = []
    threads_before = threading.active_count()

    async def setup(sup: Supervisor) -> Dispatcher:
        ch: Channel[int] = open_tickwork_channel(0)
        dispatcher = Dispatcher(ch.send)
        sup.add(consumer(ch.recv, dispatcher.handled, log))
        return dispatcher

    with host_async_dispatcher(setup, backend=backend) as (portal, dispatcher):
        assert threading.active_count() == threads_before + 1
        for i in range(5):
            portal.call(dispatcher.push, i)
        assert portal.call(lambda: list(dispatcher.handled)) == [0, 1, 2, 3, 4]
        assert dispatcher.loop_thread != threading.get_ident()
    assert log == ["consumer ended"]
    assert threading.active_count() == threads_before  # the loop thread was joined
    with pytest.raises(RuntimeError):
        portal.call(lambda: None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_setup_error_surfaces_in_the_caller(backend: str) -> None:
    async def setup(sup: Supervisor) -> Dispatcher:
        raise LookupError("no such model")

    with (
        pytest.raises(LookupError, match="no such model"),
        host_async_dispatcher(setup, backend=backend),
    ):
        pytest.fail("the body must not run")


class MissingDevice(Daemon):
    name = "device"

    async def on_start(self, ctx: Context) -> None:
        raise OSError("device missing")

    async def run(self, ctx: Context) -> None:
        raise AssertionError("run() must not be called after a failed on_start")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_daemon_startup_failure_surfaces_in_the_caller(backend: str) -> None:
    async def setup(sup: Supervisor) -> None:
        sup.add(MissingDevice())

    with (
        pytest.RaisesGroup(
            pytest.RaisesExc(DaemonError, match="'device' failed"), flatten_subgroups=True
        ),
        host_async_dispatcher(setup, backend=backend),
    ):
        pytest.fail("the body must not run")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_startup_that_exceeds_ready_timeout_is_a_timeout_error(backend: str) -> None:
    async def setup(sup: Supervisor) -> None:
        await anyio.Event().wait()  # never set

    with (
        pytest.raises(TimeoutError),
        host_async_dispatcher(setup, backend=backend, ready_timeout=0),
    ):
        pytest.fail("the body must not run")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failure_while_running_is_raised_on_exit(backend: str) -> None:
    log: list[str] = []

    async def setup(sup: Supervisor) -> Dispatcher:
        ch: Channel[int] = open_tickwork_channel(0)
        dispatcher = Dispatcher(ch.send)
        sup.add(consumer(ch.recv, dispatcher.handled, log))
        return dispatcher

    with (
        pytest.RaisesGroup(
            pytest.RaisesExc(DaemonError, match="bad item -1"), flatten_subgroups=True
        ),
        host_async_dispatcher(setup, backend=backend) as (portal, dispatcher),
    ):
        portal.call(dispatcher.push, -1)  # the failure is raised when the block exits
    assert log == ["consumer ended"]


def test_bad_arguments() -> None:
    async def setup(sup: Supervisor) -> None:
        return None

    with pytest.raises(ValueError, match="backend"), host_async_dispatcher(setup, backend="curio"):
        pass
    with (
        pytest.raises(ValueError, match="ready_timeout"),
        host_async_dispatcher(setup, ready_timeout=-1),
    ):
        pass
