"""select: serve commands and telemetry from whichever channel has something."""

from __future__ import annotations

import anyio

from tickwork import Channel, EndOfStream, open_channel
from tickwork.recipes.select import select


async def main() -> None:
    commands: Channel[str] = open_channel(4)
    telemetry: Channel[str] = open_channel(4)
    handled: list[str] = []

    await commands.send.send("stop-motor")
    await telemetry.send.send("temp=21")
    await telemetry.send.send("temp=22")
    await commands.send.aclose()
    await telemetry.send.aclose()

    while True:
        try:
            index, item = await select(commands.recv, telemetry.recv)
        except EndOfStream:  # both channels ended and were drained
            break
        handled.append(f"{('command', 'telemetry')[index]}: {item}")

    assert sorted(handled) == ["command: stop-motor", "telemetry: temp=21", "telemetry: temp=22"]


if __name__ == "__main__":
    anyio.run(main)
