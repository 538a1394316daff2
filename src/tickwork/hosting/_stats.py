"""What ``/metrics`` reports beyond the daemons: channels, ZeroMQ endpoints and Outboxes.

A daemon registers what it owns with ``register_stats(ctx.supervisor, "jobs", ch.recv)``
(and ``unregister_stats`` when it is done with it). Each registration is read only when
``/metrics`` is scraped, on the event loop, through the object's own public
statistics (``statistics()``, ``transport_statistics()``, the Outbox counters).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, cast, final

from tickwork import ChannelStats, ReceiveStream, SendStream, Supervisor
from tickwork._validate import is_instance
from tickwork.network import Outbox

__all__ = [
    "FIELDS",
    "StatsKind",
    "StatsSample",
    "collect_stats",
    "register_stats",
    "unregister_stats",
]

StatsKind = Literal["channel", "outbox", "zmq_receive", "zmq_send"]


@final
@dataclass(frozen=True, slots=True)
class StatField:
    """One number a source reports: its name, whether it only grows, what it means."""

    name: str
    counter: bool
    help: str


def _fields(*items: tuple[str, bool, str]) -> tuple[StatField, ...]:
    return tuple(StatField(*item) for item in items)


_ZMQ_COMMON: Final = (
    ("handshakes", True, "peer sessions greeted"),
    ("rejected_frames", True, "malformed or unexpected frames from the peer"),
    ("stale_frames", True, "frames left over from an earlier session"),
    ("silent_for", False, "clock seconds since the peer was last heard"),
)

FIELDS: Final[dict[StatsKind, tuple[StatField, ...]]] = {
    "channel": _fields(
        *((f.name, False, f"ChannelStats.{f.name}") for f in fields(ChannelStats)),
    ),
    "outbox": _fields(
        ("pending", False, "messages accepted and not yet delivered"),
        ("dropped", True, "messages lost to the overflow policy"),
        ("accepted", True, "messages accepted by send"),
        ("delivered", True, "messages whose post returned"),
        ("post_failures", True, "post or connect calls that raised or timed out"),
    ),
    "zmq_send": _fields(
        ("in_flight", False, "items sent and not yet acknowledged"),
        ("credit", False, "items send() may send now"),
        ("sent", True, "items accepted by send()"),
        ("acked", True, "items the receiving application received"),
        ("resent", True, "frames sent again after a reconnect or restart"),
        *_ZMQ_COMMON,
    ),
    "zmq_receive": _fields(
        ("buffered", False, "items waiting for receive()"),
        ("received", True, "data frames accepted from the sender"),
        ("delivered", True, "items handed to the application"),
        ("duplicates", True, "frames received again and dropped"),
        ("acks_sent", True, "acknowledgements sent"),
        *_ZMQ_COMMON,
    ),
}
"""The numbers each kind of source reports, in exposition order."""


@final
@dataclass(frozen=True, slots=True)
class StatsSample:
    """One registered source read once: its values by field name, and its labels."""

    kind: StatsKind
    source: str
    values: dict[str, float | None]
    state: str | None
    """The Outbox state or the ZeroMQ peer state, when the source has one."""
    endpoint: str | None
    """The ZeroMQ endpoint address, for transport sources."""


Reader = Callable[[str], StatsSample]


def _reader(source: object) -> Reader:
    """How to read ``source``; TypeError naming what is accepted when nothing fits."""
    if isinstance(source, Outbox):
        outbox = cast("Outbox[Any]", source)

        def read_outbox(name: str) -> StatsSample:
            values: dict[str, float | None] = {
                f.name: getattr(outbox, f.name) for f in FIELDS["outbox"]
            }
            state = outbox.state
            return StatsSample(
                "outbox", name, values, None if state is None else state.name.lower(), None
            )

        return read_outbox
    if hasattr(source, "transport_statistics"):
        from tickwork.transports.zmq import ZmqReceiveStream, ZmqSendStream

        if isinstance(source, ZmqSendStream | ZmqReceiveStream):
            endpoint = cast("ZmqSendStream[Any] | ZmqReceiveStream[Any]", source)
            kind: StatsKind = "zmq_send" if isinstance(source, ZmqSendStream) else "zmq_receive"

            def read_zmq(name: str) -> StatsSample:
                stats = endpoint.transport_statistics()
                values: dict[str, float | None] = {
                    f.name: getattr(stats, f.name) for f in FIELDS[kind]
                }
                return StatsSample(kind, name, values, stats.peer_state, stats.endpoint)

            return read_zmq
    statistics = getattr(source, "statistics", None)
    if callable(statistics) and isinstance(statistics(), ChannelStats):
        stream = cast("SendStream[object] | ReceiveStream[object]", source)

        def read_channel(name: str) -> StatsSample:
            stats = stream.statistics()
            values: dict[str, float | None] = {
                f.name: getattr(stats, f.name) for f in FIELDS["channel"]
            }
            return StatsSample("channel", name, values, None, None)

        return read_channel
    raise TypeError(
        f"register_stats() takes a channel endpoint, a ZeroMQ endpoint or an Outbox, "
        f"got {type(source).__name__}: {source!r}"
    )


_registries: weakref.WeakKeyDictionary[Supervisor, dict[str, Reader]] = weakref.WeakKeyDictionary()


def register_stats(supervisor: Supervisor, name: str, source: object) -> None:
    """Report ``source`` under ``name`` in this supervisor's ``/metrics``.

    ``source`` is a channel endpoint (``SendStream`` / ``ReceiveStream``), a ZeroMQ
    endpoint (transport statistics too) or a ``tickwork.network.Outbox``. The source
    is held until :func:`unregister_stats` or until the supervisor is gone.
    """
    if not is_instance(supervisor, Supervisor):
        raise TypeError(f"register_stats() needs a tickwork.Supervisor, got {supervisor!r}")
    if not is_instance(name, str) or not name:
        raise ValueError(f"a stats source name must be a non-empty str, got {name!r}")
    registry = _registries.setdefault(supervisor, {})
    if name in registry:
        raise ValueError(
            f"a stats source named {name!r} is already registered; "
            "unregister_stats() it first or pick another name"
        )
    registry[name] = _reader(source)


def unregister_stats(supervisor: Supervisor, name: str) -> None:
    """Stop reporting ``name``; a name never registered is a KeyError saying so."""
    registry = _registries.get(supervisor, {})
    if name not in registry:
        raise KeyError(f"no stats source named {name!r} is registered on {supervisor!r}")
    del registry[name]


def collect_stats(supervisor: Supervisor) -> Iterator[StatsSample]:
    """Read every source registered on ``supervisor``, in registration order."""
    for name, read in list(_registries.get(supervisor, {}).items()):
        yield read(name)
