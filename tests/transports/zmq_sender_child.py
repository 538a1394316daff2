"""A sending process for the sender-restart test, run as a script (never imported by pytest).

``python zmq_sender_child.py ADDRESS START COUNT FIN`` sends the ints START..START+COUNT-1
with maxsize 8, prints ``SENT``, then closes the stream if FIN is 1, or waits to be
killed if it is 0 (so the receiver never sees an end of stream from this process).
"""

from __future__ import annotations

import sys

import anyio

from tickwork.transports.zmq import MsgpackSerde, open_zmq_send


async def main(address: str, start: int, count: int, fin: bool) -> None:
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with open_zmq_send(address, maxsize=8, serde=serde) as tx:
        for i in range(start, start + count):
            await tx.send(i)
        print("SENT", flush=True)
        if not fin:
            await anyio.sleep_forever()


if __name__ == "__main__":
    address, start, count, fin = sys.argv[1:]
    anyio.run(main, address, int(start), int(count), fin == "1")
