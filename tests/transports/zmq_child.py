"""A receiving process for the kill/restart tests, run as a script (never imported by pytest).

``python zmq_child.py ADDRESS BIND MAXSIZE BACKEND [SESSION SEQ]`` receives ints and
writes ``"<item> <cursor session> <cursor seq>\\n"`` to stdout for each (one short
``os.write``, so a SIGKILL never tears a line), then ``"EOF\\n"`` at end of stream.
SESSION and SEQ resume from a cursor the parent saw in an earlier incarnation's output.
"""

from __future__ import annotations

import os
import sys

import anyio

from tickwork.transports.zmq import Cursor, MsgpackSerde, open_zmq_receive


async def main(address: str, bind: bool, maxsize: int, resume: Cursor | None) -> None:
    async with open_zmq_receive(
        address, bind=bind, maxsize=maxsize, serde=MsgpackSerde(int), resume=resume, linger_ms=0
    ) as rx:
        # Record each item before asking for the next: asking is what acknowledges it.
        async for item in rx:
            cursor = rx.cursor
            assert cursor is not None
            os.write(1, f"{item} {cursor.session} {cursor.seq}\n".encode())
        os.write(1, b"EOF\n")


if __name__ == "__main__":
    address, bind, maxsize, backend, *rest = sys.argv[1:]
    cursor = Cursor(int(rest[0]), int(rest[1])) if rest else None
    anyio.run(main, address, bind == "1", int(maxsize), cursor, backend=backend)
