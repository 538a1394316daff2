"""The parent's durable side of each data-plane channel (see ADR 0034).

The ZeroMQ endpoints the parent opens live only as long as one child process, but the
state that makes "nothing lost across a child restart" true lives here, in the
ProcessDaemon, across attempts:

- ``Outbound`` (the parent hands the child a ReceiveStream) keeps every item it has
  taken from the parent's stream and not yet seen acknowledged by the child. The next
  child gets those again first, in order: items are delivered at least once.
- ``Inbound`` (the parent hands the child a SendStream) keeps the item it was
  forwarding and whatever the ZeroMQ receiver still buffered when the child died, and
  forwards them before anything from the next child.
"""

from __future__ import annotations

from collections import deque
from typing import Any, final

from tickwork import ChannelClosed, EndOfStream, ReceiveStream, SendStream, TickworkError
from tickwork.transports.zmq import ZmqReceiveStream, ZmqSendStream

__all__ = ["Inbound", "Outbound"]


@final
class Outbound:
    """Parent ReceiveStream -> child: the items sent to the child and not yet acknowledged."""

    __slots__ = ("_dropped", "ended", "outstanding", "source")

    def __init__(self, source: ReceiveStream[Any]) -> None:
        self.source = source
        self.outstanding: deque[Any] = deque()
        self.ended = False
        self._dropped = 0

    async def pump(self, tx: ZmqSendStream[Any]) -> None:
        """Resend what the last child did not acknowledge, then forward the source."""
        self._dropped = 0
        try:
            for item in list(self.outstanding):
                await tx.send(item)
            while not self.ended:
                self.forget_acknowledged(tx)
                try:
                    item = await self.source.receive()
                except EndOfStream:
                    self.ended = True
                    break
                self.outstanding.append(item)
                await tx.send(item)
        except ChannelClosed:
            return  # the child closed its end (it is ending): what it lacks stays outstanding
        await tx.aclose()

    def forget_acknowledged(self, tx: ZmqSendStream[Any]) -> None:
        """Drop the items this ``tx`` has seen acknowledged (they were sent in order)."""
        acked = tx.transport_statistics().acked
        while self._dropped < acked and self.outstanding:
            self.outstanding.popleft()
            self._dropped += 1


@final
class Inbound:
    """Child -> parent SendStream: items received from the child, not yet forwarded."""

    __slots__ = ("pending", "sink")

    def __init__(self, sink: SendStream[Any]) -> None:
        self.sink = sink
        self.pending: deque[Any] = deque()

    async def flush(self) -> None:
        """Forward what an earlier child left behind."""
        while self.pending:
            await self.sink.send(self.pending[0])
            self.pending.popleft()

    async def pump(self, rx: ZmqReceiveStream[Any]) -> None:
        """Forward every item from the child, keeping the one in hand if cancelled."""
        await self.flush()
        while True:
            try:
                item = await rx.receive()
            except EndOfStream:
                return
            self.pending.append(item)
            await self.sink.send(item)
            self.pending.popleft()

    def salvage(self, rx: ZmqReceiveStream[Any]) -> None:
        """Keep what ``rx`` received but nobody took yet, before it closes."""
        while True:
            try:
                self.pending.append(rx.receive_nowait())
            except TickworkError:  # WouldBlock: empty; EndOfStream; a bad frame
                return
