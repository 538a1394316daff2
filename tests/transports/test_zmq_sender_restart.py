"""A new sending process (a new session) takes over from a killed one: the receiver goes on."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import anyio

from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive

CHILD = pathlib.Path(__file__).with_name("zmq_sender_child.py")


async def scenario() -> tuple[list[int], int]:
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    got: list[int] = []
    async with open_zmq_receive("tcp://127.0.0.1:0", maxsize=8, serde=serde) as rx:

        def child(start: int, fin: int) -> list[str]:
            return [sys.executable, str(CHILD), rx.endpoint, str(start), "50", str(fin)]

        with anyio.fail_after(30):
            first = await anyio.open_process(child(0, 0), stdin=subprocess.DEVNULL)
            async with first:
                while len(got) < 50:
                    got.append(await rx.receive())
                first.kill()  # SIGKILL: no end of stream from this session
                await first.wait()
            second = await anyio.open_process(child(50, 1), stdin=subprocess.DEVNULL)
            async with second:
                got.extend([item async for item in rx])
                await second.wait()
            assert second.returncode == 0
        handshakes = rx.transport_statistics().handshakes
    return got, handshakes


def test_a_restarted_sender_starts_a_new_session() -> None:
    got, handshakes = anyio.run(scenario, backend="trio")
    assert got == list(range(100))
    assert handshakes == 2
