"""The wire format (version 2): one ZeroMQ message per frame, a kind byte, little-endian.

Sender -> receiver::

    DATA      01 | epoch u64 | first seq u64 | msgpack array of bin: the payloads of
                 seq first, first+1, ... (a batch: whatever was ready within credit)
    FIN       02 | epoch u64 | seq u64                  end of stream, sequenced like data
    PING      03 | epoch u64                            heartbeat
    WELCOME   04 | "tw" | version u8 | epoch u64 | sender session u64 | base u64 | window u64
    CLOSE_ACK 05 | epoch u64                            the receiver's CLOSE arrived
    HERE      06 | epoch u64 | nonce u64                the answer to CHECK: this sender lives

Receiver -> sender::

    HELLO     11 | "tw" | version u8 | receiver session u64 | cursor session u64
                 | cursor seq u64 | window u64 | flags u8  (1 = a receive() waits, 2 = closed)
    ACK       12 | epoch u64 | done u64 | delivered u64 | limit u64 | flags u8  (1 = FIN arrived)
                 done: the application came back for more after it (resend no more);
                 delivered: handed to the application
    CLOSE     13 | epoch u64                            the receiver closed
    REFUSED   14 | epoch u64 | reason u8                 not this sender: 1 = the receiver
                 already has one, 2 = another sender took over (ADR 0030)
    CHECK     15 | epoch u64 | nonce u64                another sender greeted: are you there?

An empty message is a connection probe (ZMQ_PROBE_ROUTER). ``epoch`` is the receiver
session the sender greeted: frames carrying another epoch are left over from an earlier
connection. See docs/adr/0012-zmq-transport.md and docs/adr/0029-zmq-wire-v2.md.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

__all__ = [
    "ACK",
    "CHECK",
    "CLOSE",
    "CLOSE_ACK",
    "DATA",
    "FIN",
    "FLAG_CLOSED",
    "FLAG_FIN",
    "FLAG_WAITING",
    "HELLO",
    "HERE",
    "MAGIC",
    "PING",
    "REFUSED",
    "REFUSED_HAS_SENDER",
    "REFUSED_TAKEN_OVER",
    "UNBOUNDED",
    "VERSION",
    "WELCOME",
    "Malformed",
    "VersionMismatch",
    "kind_name",
    "pack_ack",
    "pack_data",
    "pack_epoch_frame",
    "pack_hello",
    "pack_nonce_frame",
    "pack_refused",
    "pack_welcome",
    "unpack_ack",
    "unpack_data",
    "unpack_epoch_frame",
    "unpack_hello",
    "unpack_nonce_frame",
    "unpack_refused",
    "unpack_seq_frame",
    "unpack_welcome",
]

DATA: Final = 0x01
FIN: Final = 0x02
PING: Final = 0x03
WELCOME: Final = 0x04
CLOSE_ACK: Final = 0x05
HERE: Final = 0x06
HELLO: Final = 0x11
ACK: Final = 0x12
CLOSE: Final = 0x13
REFUSED: Final = 0x14
CHECK: Final = 0x15

REFUSED_HAS_SENDER: Final = 1
REFUSED_TAKEN_OVER: Final = 2

MAGIC: Final = b"tw"
VERSION: Final = 2

FLAG_WAITING: Final = 1
FLAG_CLOSED: Final = 2
FLAG_FIN: Final = 1

UNBOUNDED: Final = 1 << 62
"""Window used on the wire for ``maxsize=math.inf``."""

_KIND_NAMES: Final = {
    DATA: "DATA",
    FIN: "FIN",
    PING: "PING",
    WELCOME: "WELCOME",
    CLOSE_ACK: "CLOSE_ACK",
    HELLO: "HELLO",
    ACK: "ACK",
    CLOSE: "CLOSE",
    REFUSED: "REFUSED",
    HERE: "HERE",
    CHECK: "CHECK",
}

SEQ_HEAD: Final = struct.Struct("<BQQ")  # DATA, FIN; CHECK, HERE (the u64 is a nonce)
EPOCH_FRAME: Final = struct.Struct("<BQ")  # PING, CLOSE_ACK, CLOSE
_REFUSED: Final = struct.Struct("<BQB")
_WELCOME: Final = struct.Struct("<B2sBQQQQ")
_HELLO: Final = struct.Struct("<B2sBQQQQB")
_ACK: Final = struct.Struct("<BQQQQB")


class Malformed(Exception):
    """A frame that does not parse; the receiving endpoint turns it into a FrameError."""


class VersionMismatch(Malformed):
    """A handshake frame from a peer speaking another protocol version."""


def kind_name(kind: int) -> str:
    """``DATA``, ``HELLO``, ... or ``unknown kind 0x7f``."""
    return _KIND_NAMES.get(kind, f"unknown kind 0x{kind:02x}")


def _check_size(frame: bytes, layout: struct.Struct) -> None:
    if len(frame) != layout.size:
        raise Malformed(
            f"{kind_name(frame[0])} frame of {len(frame)} bytes, expected {layout.size}"
        )


def _check_magic(magic: bytes, version: int, kind: int) -> None:
    if magic != MAGIC:
        raise Malformed(f"{kind_name(kind)} frame without the tickwork magic (got {magic!r})")
    if version != VERSION:
        raise VersionMismatch(
            f"{kind_name(kind)} frame speaks protocol version {version}; this end speaks "
            f"{VERSION}: run the same tickwork version on both ends"
        )


def unpack_seq_frame(frame: bytes) -> tuple[int, int]:
    """``(epoch, seq)`` of a DATA or FIN frame (the payload starts at ``SEQ_HEAD.size``)."""
    if len(frame) < SEQ_HEAD.size:
        raise Malformed(
            f"{kind_name(frame[0])} frame of {len(frame)} bytes, shorter than its "
            f"{SEQ_HEAD.size}-byte header"
        )
    _, epoch, seq = SEQ_HEAD.unpack_from(frame)
    if seq == 0:
        raise Malformed(f"{kind_name(frame[0])} frame with sequence number 0")
    return epoch, seq


def pack_epoch_frame(kind: int, epoch: int) -> bytes:
    """A PING, CLOSE or CLOSE_ACK frame."""
    return EPOCH_FRAME.pack(kind, epoch)


def unpack_epoch_frame(frame: bytes) -> int:
    """The epoch of a PING, CLOSE or CLOSE_ACK frame."""
    _check_size(frame, EPOCH_FRAME)
    return EPOCH_FRAME.unpack(frame)[1]


def pack_nonce_frame(kind: int, epoch: int, nonce: int) -> bytes:
    """A CHECK or HERE frame."""
    return SEQ_HEAD.pack(kind, epoch, nonce)


def unpack_nonce_frame(frame: bytes) -> tuple[int, int]:
    """``(epoch, nonce)`` of a CHECK or HERE frame."""
    _check_size(frame, SEQ_HEAD)
    _, epoch, nonce = SEQ_HEAD.unpack(frame)
    return epoch, nonce


def pack_refused(epoch: int, reason: int) -> bytes:
    """The receiver turns a sender away (``REFUSED_HAS_SENDER`` / ``REFUSED_TAKEN_OVER``)."""
    return _REFUSED.pack(REFUSED, epoch, reason)


def unpack_refused(frame: bytes) -> tuple[int, int]:
    """``(epoch, reason)`` of a REFUSED frame."""
    _check_size(frame, _REFUSED)
    _, epoch, reason = _REFUSED.unpack(frame)
    if reason not in (REFUSED_HAS_SENDER, REFUSED_TAKEN_OVER):
        raise Malformed(f"REFUSED frame with unknown reason {reason}")
    return epoch, reason


def pack_welcome(epoch: int, session: int, base: int, window: int) -> bytes:
    """The sender's answer to HELLO: its session, the resume point and its window."""
    return _WELCOME.pack(WELCOME, MAGIC, VERSION, epoch, session, base, window)


def unpack_welcome(frame: bytes) -> tuple[int, int, int, int]:
    """``(epoch, sender session, base, window)``."""
    _check_size(frame, _WELCOME)
    kind, magic, version, epoch, session, base, window = _WELCOME.unpack(frame)
    _check_magic(magic, version, kind)
    if session == 0:
        raise Malformed("WELCOME frame with sender session 0")
    return epoch, session, base, window


def pack_hello(
    session: int, cursor_session: int, cursor_seq: int, window: int, flags: int
) -> bytes:
    """The receiver's greeting: who it is, where it is in the stream, its window."""
    return _HELLO.pack(HELLO, MAGIC, VERSION, session, cursor_session, cursor_seq, window, flags)


def unpack_hello(frame: bytes) -> tuple[int, int, int, int, int]:
    """``(receiver session, cursor session, cursor seq, window, flags)``."""
    _check_size(frame, _HELLO)
    kind, magic, version, session, cursor_session, cursor_seq, window, flags = _HELLO.unpack(frame)
    _check_magic(magic, version, kind)
    if session == 0:
        raise Malformed("HELLO frame with receiver session 0")
    return session, cursor_session, cursor_seq, window, flags


def pack_ack(epoch: int, done: int, delivered: int, limit: int, flags: int) -> bytes:
    """Everything up to ``done`` is finished with; the sender may send up to ``limit``."""
    return _ACK.pack(ACK, epoch, done, delivered, limit, flags)


def unpack_ack(frame: bytes) -> tuple[int, int, int, int, int]:
    """``(epoch, done, delivered, limit, flags)``."""
    _check_size(frame, _ACK)
    _, epoch, done, delivered, limit, flags = _ACK.unpack(frame)
    if not done <= delivered <= limit:
        raise Malformed(
            f"ACK frame with done {done}, delivered {delivered}, limit {limit} out of order"
        )
    return epoch, done, delivered, limit, flags


_batch_encoder: Final = msgspec.msgpack.Encoder()
_batch_decoder: Final = msgspec.msgpack.Decoder(list[bytes])
_DATA_HEAD_SIZE: Final = SEQ_HEAD.size


def pack_data(epoch: int, first: int, payloads: list[bytes]) -> bytes:
    """A DATA frame carrying ``payloads`` as seq ``first``, ``first + 1``, ..."""
    return SEQ_HEAD.pack(DATA, epoch, first) + _batch_encoder.encode(payloads)


def unpack_data(frame: bytes) -> tuple[int, int, list[bytes]]:
    """``(epoch, first seq, payloads)`` of a DATA frame."""
    epoch, first = unpack_seq_frame(frame)
    try:
        payloads = _batch_decoder.decode(memoryview(frame)[_DATA_HEAD_SIZE:])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Malformed(f"DATA frame whose batch does not parse ({exc})") from None
    if not payloads:
        raise Malformed("DATA frame with an empty batch")
    return epoch, first, payloads
