"""Host a Supervisor on its own thread and event loop, for synchronous callers.

::

    async def setup(sup: Supervisor) -> Dispatcher:
        channel = open_channel(64)
        sup.add(worker(channel.recv))
        return Dispatcher(channel.send)

    with host_async_dispatcher(setup) as (portal, dispatcher):
        portal.call(dispatcher.push, item)   # from plain, blocking code
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from typing import TypeVar

import anyio
import anyio.abc
from anyio.from_thread import BlockingPortal, start_blocking_portal

from tickwork import Clock, Supervisor
from tickwork._validate import check_seconds

from .supervisor_host import SupervisorHost

__all__ = ["host_async_dispatcher"]

D = TypeVar("D")


@contextmanager
def host_async_dispatcher(
    setup: Callable[[Supervisor], Awaitable[D]],
    *,
    clock: Clock | None = None,
    backend: str = "asyncio",
    ready_timeout: float = 10.0,
) -> Generator[tuple[BlockingPortal, D]]:
    """Run a Supervisor on a new thread; yield ``(portal, dispatcher)`` to sync code.

    On the new thread's event loop (``backend``: ``"asyncio"`` or ``"trio"``) it creates
    ``Supervisor(clock=clock)``, awaits ``setup(supervisor)`` (add daemons there, and
    return the object sync code will call), then starts the supervisor and waits for
    every ``on_start``. Sync code calls into the loop with ``portal.call(...)``.

    Startup errors surface here, in the calling thread: what ``setup`` raised, the
    supervisor's startup failure, or ``TimeoutError`` if startup took longer than
    ``ready_timeout`` wall-clock seconds. Leaving the ``with`` block stops the
    supervisor (``grace=0``: daemons are asked to stop, then cancelled, each still
    getting ``on_stop``), re-raises a failure the supervisor had meanwhile, and joins
    the thread.
    """
    timeout = check_seconds(ready_timeout, "ready_timeout")
    if backend not in ("asyncio", "trio"):
        raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")

    async def serve(*, task_status: anyio.abc.TaskStatus[tuple[D, anyio.Event]]) -> None:
        deadline = anyio.current_time() + timeout
        supervisor = Supervisor(clock=clock)
        host = SupervisorHost(supervisor)
        shutdown = anyio.Event()
        with anyio.fail_after(deadline - anyio.current_time()):
            dispatcher = await setup(supervisor)
        failure: Exception | None = None
        async with anyio.create_task_group() as tg:
            try:
                with anyio.fail_after(deadline - anyio.current_time()):
                    await host.start(tg)
            except Exception as exc:
                # Raised plainly below, not wrapped in this task group's ExceptionGroup.
                failure = exc
                tg.cancel_scope.cancel()
            else:
                task_status.started((dispatcher, shutdown))
                await shutdown.wait()
                await host.stop()
        if failure is not None:
            raise failure

    with start_blocking_portal(backend) as portal:
        future, (dispatcher, shutdown) = portal.start_task(serve, name="tickwork sync bridge")
        try:
            yield portal, dispatcher
        finally:
            if not future.done():
                portal.call(shutdown.set)
            future.result()
