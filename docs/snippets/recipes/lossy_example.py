"""lossy: a 1 kHz sensor must never block on a slow display; count what is dropped."""

from __future__ import annotations

import anyio

from tickwork import Channel, open_channel
from tickwork.recipes.lossy import CoalesceSend, DropNewestSend, DropOldestSend


async def main() -> None:
    # The display shows only the newest frame.
    frames: Channel[int] = open_channel(1)
    display = CoalesceSend(frames.send, frames.recv)
    for frame in range(100):
        await display.send(frame)  # never waits
    assert frames.recv.receive_nowait() == 99
    assert display.dropped == 99

    # A log keeps the most recent 10 readings.
    recent: Channel[int] = open_channel(10)
    log = DropOldestSend(recent.send, recent.recv)
    for reading in range(25):
        await log.send(reading)
    assert [recent.recv.receive_nowait() for _ in range(10)] == list(range(15, 25))
    assert log.dropped == 15

    # An audit queue keeps the first 10 and refuses the rest.
    audit: Channel[int] = open_channel(10)
    first = DropNewestSend(audit.send)
    for event in range(25):
        await first.send(event)
    assert [audit.recv.receive_nowait() for _ in range(10)] == list(range(10))
    assert first.dropped == 15


if __name__ == "__main__":
    anyio.run(main)
