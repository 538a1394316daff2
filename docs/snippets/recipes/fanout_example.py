"""tee: every reading goes to the recorder and to the alarm checker."""

from __future__ import annotations

import anyio

from tickwork import Channel, ReceiveStream, open_channel
from tickwork.recipes.fanout import tee


async def main() -> None:
    readings: Channel[float] = open_channel(8)
    to_recorder: Channel[float] = open_channel(8)
    to_alarm: Channel[float] = open_channel(8)
    recorded: list[float] = []
    alarms: list[float] = []

    async def record(recv: ReceiveStream[float]) -> None:
        async for value in recv:
            recorded.append(value)

    async def check(recv: ReceiveStream[float]) -> None:
        async for value in recv:
            if value > 30.0:
                alarms.append(value)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tee, readings.recv, to_recorder.send, to_alarm.send)
        tg.start_soon(record, to_recorder.recv)
        tg.start_soon(check, to_alarm.recv)
        async with readings.send:  # closing the source ends the tee, which closes both
            for value in (21.5, 22.0, 31.2, 23.4):
                await readings.send.send(value)

    assert recorded == [21.5, 22.0, 31.2, 23.4]
    assert alarms == [31.2]


if __name__ == "__main__":
    anyio.run(main)
