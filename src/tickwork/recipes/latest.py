"""A one-slot "latest value" cell that readers can also wait on."""

from __future__ import annotations

from typing import Generic, TypeVar, cast, final

import anyio
import anyio.lowlevel

__all__ = ["Latest"]

T = TypeVar("T")


@final
class Latest(Generic[T]):
    """Holds the most recent value; writers never block, readers never see stale queues.

    ``set`` replaces the value and bumps :attr:`version`; ``get`` reads it (``None``
    before the first ``set`` unless an initial value was given). A reader that wants
    every *change* without polling waits with :meth:`wait_changed`::

        seen = cell.version
        while True:
            value = await cell.wait_changed(seen)
            seen = cell.version
            ...

    Values set while the reader was busy are coalesced: it wakes once and sees the
    newest. Use it from one event loop (it is not thread-safe).
    """

    __slots__ = ("_event", "_value", "_version")

    def __init__(self, value: T | None = None) -> None:
        self._value: T | None = value
        self._version = 0
        self._event: anyio.Event | None = None

    def __repr__(self) -> str:
        return f"<Latest {self._value!r} version={self._version}>"

    @property
    def version(self) -> int:
        """How many times :meth:`set` has been called."""
        return self._version

    def get(self) -> T | None:
        """The latest value (``None`` before the first ``set`` without an initial value)."""
        return self._value

    def set(self, value: T) -> None:
        """Store ``value`` and wake every task in :meth:`wait_changed`. Never blocks."""
        self._value = value
        self._version += 1
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait_changed(self, since: int | None = None) -> T:
        """Wait until :attr:`version` is greater than ``since``, then return the value.

        ``since`` defaults to the version at the call, i.e. wait for the next ``set``.
        Pass the version you last saw so a ``set`` between two calls is never missed.
        Returns at once (after a checkpoint) if the value already changed.
        """
        target = self._version if since is None else since
        if self._version > target:
            await anyio.lowlevel.checkpoint()
        while self._version <= target:
            event = self._event
            if event is None:
                event = self._event = anyio.Event()
            await event.wait()
        return cast("T", self._value)
