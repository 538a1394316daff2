"""Small fakes and helpers shared by the recipe tests."""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Self, TypeVar

from tickwork import ChannelStats, ReceiveStream, WouldBlock

T = TypeVar("T")

_STATS = ChannelStats(
    current_buffer_used=0,
    max_buffer_size=0,
    open_send_streams=1,
    open_receive_streams=1,
    waiters_send=0,
    waiters_receive=0,
)


class FailingReceive(Generic[T]):
    """A ReceiveStream whose receive raises ``error`` (after ``items`` are handed out)."""

    def __init__(self, error: Exception, items: tuple[T, ...] = ()) -> None:
        self.error = error
        self.items = list(items)
        self.closed = False

    async def receive(self) -> T:
        if self.items:
            return self.items.pop(0)
        raise self.error

    def receive_nowait(self) -> T:
        if self.items:
            return self.items.pop(0)
        raise WouldBlock

    async def wait_ready(self) -> None:
        if not self.items:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True

    def statistics(self) -> ChannelStats:
        return _STATS

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        return await self.receive()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_protocol() -> None:
    # Static check (pyright): the fake satisfies the ReceiveStream protocol.
    _: ReceiveStream[int] = FailingReceive[int](RuntimeError())


async def drain(recv: ReceiveStream[T], into: list[T]) -> None:
    """Append every item of ``recv`` to ``into`` until it ends."""
    async for item in recv:
        into.append(item)
