"""Remote channels over ZeroMQ: the same SendStream / ReceiveStream across processes.

``pip install tickwork[zmq]`` (pyzmq and msgspec). Runs on asyncio and trio::

    async with open_zmq_receive("tcp://127.0.0.1:5555", maxsize=64) as rx:
        async for item in rx: ...

    async with open_zmq_send("tcp://127.0.0.1:5555", maxsize=64) as tx:
        await tx.send({"x": 1})

Nothing is lost or duplicated while the sending process lives (sequence numbers,
acknowledgements, resend on reconnect), ``maxsize`` bounds the items in flight end to
end, heartbeats detect a silent peer, and CURVE optionally encrypts and authenticates.
See docs/zmq.md and docs/adr/0012-zmq-transport.md.
"""

from __future__ import annotations

# First, so that a missing extra fails with the install command in the message.
from ._extra import msgspec as _msgspec

# isort: split
from tickwork._internals import fixup_module_metadata as _fixup_module_metadata

from ._curve import CurveClient as CurveClient
from ._curve import CurveServer as CurveServer
from ._curve import curve_keypair as curve_keypair
from ._errors import FrameError as FrameError
from ._errors import TransportError as TransportError
from ._open import open_zmq_channel as open_zmq_channel
from ._open import open_zmq_receive as open_zmq_receive
from ._open import open_zmq_send as open_zmq_send
from ._receive import ZmqReceiveStream as ZmqReceiveStream
from ._send import ZmqSendStream as ZmqSendStream
from ._serde import MsgpackSerde as MsgpackSerde
from ._serde import Serde as Serde
from ._stats import Cursor as Cursor
from ._stats import PeerState as PeerState
from ._stats import ZmqReceiveStats as ZmqReceiveStats
from ._stats import ZmqSendStats as ZmqSendStats

__all__ = [
    "Cursor",
    "CurveClient",
    "CurveServer",
    "FrameError",
    "MsgpackSerde",
    "PeerState",
    "Serde",
    "TransportError",
    "ZmqReceiveStats",
    "ZmqReceiveStream",
    "ZmqSendStats",
    "ZmqSendStream",
    "curve_keypair",
    "open_zmq_channel",
    "open_zmq_receive",
    "open_zmq_send",
]


_fixup_module_metadata(__name__, globals(), __all__)
del _fixup_module_metadata, _msgspec
