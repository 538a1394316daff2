"""Park a task until another task wakes it, with a wake that cannot be lost.

The channel and SimClock need one thing anyio does not expose: "suspend this task
until someone hands it a value", where a hand-off and a cancellation can never both
take effect. trio gives this directly (``wait_task_rescheduled``: once a task is
rescheduled, its abort function can no longer run). On asyncio a future can be
resolved and the task cancelled in the same loop pass; there the wake wins, the value
is returned, and the cancellation is re-armed so it lands at the task's next await.
Either way a woken waiter always sees its value and an aborted one never does.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, Literal, cast

__all__ = ["Waiter", "current_backend"]

Backend = Literal["asyncio", "trio"]


def current_backend() -> Backend:
    """The async library running the current task (``asyncio`` unless trio runs)."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return "trio"
    return "asyncio"


class Waiter:
    """One parked task and the value handed to it. Single use.

    ``fired`` is true once :meth:`wake` has succeeded; ``value`` is what it carried.
    """

    __slots__ = ("_handle", "fired", "value")

    def __init__(self, value: Any = None) -> None:
        self.value: Any = value
        self.fired: bool = False
        self._handle: Any = None

    async def park(self, on_abort: Callable[[], object]) -> None:
        """Suspend until :meth:`wake`; on cancellation call ``on_abort`` and re-raise.

        ``on_abort`` runs only when the cancellation won, so it can unregister the
        waiter from whatever structure holds it; it must not block.
        """
        if current_backend() == "trio":
            await self._park_trio(on_abort)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._handle = fut
        try:
            await fut
        except asyncio.CancelledError as exc:
            if not self.fired:
                on_abort()
                raise
            # Woken and cancelled in the same loop pass: keep the wake and let the
            # cancellation land at the task's next await instead.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
                task.cancel(*exc.args)

    async def _park_trio(self, on_abort: Callable[[], object]) -> None:
        import trio

        self._handle = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            on_abort()
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def wake(self, value: Any = None) -> bool:
        """Hand ``value`` to the parked task; False if it already left (cancelled)."""
        handle = self._handle
        if isinstance(handle, asyncio.Future):
            fut = cast("asyncio.Future[None]", handle)
            if fut.done():
                return False
            fut.set_result(None)
        else:
            import trio

            trio.lowlevel.reschedule(handle)
        self.value = value
        self.fired = True
        return True
