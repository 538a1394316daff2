"""A child that breaks the control protocol, for the malformed-message tests (a script).

``python rogue_child.py MODE DIRECTORY``: says ``identify`` and ``ready`` properly, then
sends garbage (MODE ``garbage``) or a second ``identify`` (MODE ``twice``), then waits
to be terminated.
"""

from __future__ import annotations

import os
import signal
import sys

import msgspec
import zmq


def main(mode: str, directory: str) -> None:
    context = zmq.Context()
    up = context.socket(zmq.PUSH)
    up.connect(f"ipc://{directory}/up")
    encoder = msgspec.msgpack.Encoder()
    identify = {"type": "identify", "node": "rogue", "status": "waiting", "pid": os.getpid()}
    up.send(encoder.encode(identify))
    up.send(encoder.encode({"type": "status", "status": "ready"}))
    up.send(b"\xc1 not msgpack" if mode == "garbage" else encoder.encode(identify))
    signal.pause()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
