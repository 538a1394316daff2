"""The control-plane messages: msgspec Structs in two tagged unions, one per direction.

The launch description goes to the child as a file in the private directory; after
that the child speaks ``ToParent`` and the parent ``ToChild``, MessagePack-encoded.
Nothing is ever pickled: a message that fails to decode is a ``ControlPlaneError``.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from tickwork import DaemonFailurePhase, DaemonState

__all__ = [
    "LAUNCH_FILE",
    "ChannelSpec",
    "ChildDaemonHealth",
    "ChildStatus",
    "ErrorReport",
    "Health",
    "Identify",
    "Launch",
    "LogRecord",
    "Ping",
    "Status",
    "Stop",
    "ToChild",
    "ToParent",
    "decode_launch",
    "decode_to_child",
    "decode_to_parent",
    "encode",
]

LAUNCH_FILE: Final = "launch.msgpack"
"""The launch description's file name in the child's private directory."""

ChildStatus = Literal["stopped", "waiting", "ready", "running", "closed"]
"""``waiting``: building daemons and running their ``on_start``. ``ready``: every
``on_start`` returned. ``running``: serving. ``stopped``: every daemon ended.
``closed``: the control plane is closing; the process exits next."""


class ChannelSpec(msgspec.Struct, frozen=True):
    """One data-plane channel as the child opens it."""

    name: str
    address: str
    direction: Literal["receive", "send"]
    """What the child gets: a ReceiveStream (parent sends) or a SendStream."""
    maxsize: int


class Launch(msgspec.Struct, frozen=True):
    """What the child must build: written by the parent before it starts the child."""

    name: str
    target: str
    args: list[Any]
    channels: list[ChannelSpec]
    up: str
    down: str
    heartbeat_interval: float
    parent_timeout: float
    log_level: int
    backend: Literal["asyncio", "trio"]


class ChildDaemonHealth(msgspec.Struct, frozen=True):
    """One daemon of a child process, as its supervisor's ``snapshot()`` saw it."""

    name: str
    state: DaemonState
    restart_count: int
    last_error: str | None
    """``"TypeName: message"``, or None."""
    last_error_phase: DaemonFailurePhase | None
    uptime: float | None
    error_type: str | None = None
    """The last error's qualified type name (as in ``RemoteDaemonError.remote_type``)."""
    error_args: list[str] = msgspec.field(default_factory=list[str])
    """The last error's arguments, each ``repr``-ed."""


class Identify(msgspec.Struct, frozen=True, tag="identify"):
    """The child's first message: who it is."""

    node: str
    status: ChildStatus
    pid: int


class Status(msgspec.Struct, frozen=True, tag="status"):
    """The child's lifecycle moved on."""

    status: ChildStatus


class Ping(msgspec.Struct, frozen=True, tag="ping"):
    """A heartbeat (both directions)."""


class Stop(msgspec.Struct, frozen=True, tag="stop"):
    """Parent to child: stop your supervisor, giving daemons ``grace`` seconds."""

    grace: float


class ErrorReport(msgspec.Struct, frozen=True, tag="error"):
    """An exception escaped a daemon (or the factory) in the child."""

    daemon: str
    type_name: str
    args: list[str]
    traceback: str


class Health(msgspec.Struct, frozen=True, tag="health"):
    """The child supervisor's snapshot, sent with each heartbeat."""

    daemons: list[ChildDaemonHealth]


class LogRecord(msgspec.Struct, frozen=True, tag="log"):
    """A log record from the child, already formatted (arguments merged into the text)."""

    level: int
    logger: str
    message: str
    daemon: str | None
    sim_time: float | None
    created: float
    exc_text: str | None = None


ToParent = Identify | Status | Ping | ErrorReport | Health | LogRecord
ToChild = Ping | Stop

_ENCODER: Final = msgspec.msgpack.Encoder()
_TO_PARENT: Final = msgspec.msgpack.Decoder(ToParent)
_TO_CHILD: Final = msgspec.msgpack.Decoder(ToChild)
_LAUNCH: Final = msgspec.msgpack.Decoder(Launch)


def encode(message: msgspec.Struct) -> bytes:
    """The wire form of a control message (or the launch description)."""
    return _ENCODER.encode(message)


def decode_to_parent(data: bytes) -> ToParent:
    """Decode a child's message; ``msgspec.DecodeError`` / ``ValidationError`` if bad."""
    return _TO_PARENT.decode(data)


def decode_to_child(data: bytes) -> ToChild:
    """Decode a parent's message; ``msgspec.DecodeError`` / ``ValidationError`` if bad."""
    return _TO_CHILD.decode(data)


def decode_launch(data: bytes) -> Launch:
    """Decode the launch file."""
    return _LAUNCH.decode(data)
