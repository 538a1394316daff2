"""``open_zmq_send``, ``open_zmq_receive`` and ``open_zmq_channel``: checks, then wiring."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Final, TypeVar, cast, overload

import zmq

from tickwork import Channel, Clock, WallClock
from tickwork._internals import construct
from tickwork._validate import check_seconds

from ._core import Liveness
from ._curve import CurveClient, CurveServer, register_zap
from ._frames import UNBOUNDED
from ._link import Opening, window_of
from ._memory import SCHEME, MemoryWire
from ._receive import ZmqReceiveStream
from ._receiver_core import ReceiverCore
from ._send import ZmqSendStream
from ._sender_core import SenderCore
from ._serde import MsgpackSerde, Serde
from ._socket import MIN_HWM, Wire, ZmqWire
from ._stats import Cursor, PeerState

__all__ = ["open_zmq_channel", "open_zmq_receive", "open_zmq_send"]

T = TypeVar("T")

PEER_TIMEOUT_HEARTBEATS: Final = 3
"""Default ``peer_timeout``: this many heartbeat intervals without a word."""

StateCallback = Callable[[PeerState], object]

_SESSION_BITS: Final = 63
"""Session ids are random 63-bit numbers (odd, so never 0)."""


def _session() -> int:
    return random.getrandbits(_SESSION_BITS) | 1


def _check_maxsize(maxsize: object) -> float:
    if not isinstance(maxsize, int | float) or isinstance(maxsize, bool):
        raise TypeError(f"maxsize must be an int or math.inf, not {type(maxsize).__name__}")
    if math.isnan(maxsize) or maxsize < 0:
        raise ValueError(
            f"maxsize must be >= 0 (0 = rendezvous, math.inf = unbounded), got {maxsize!r}"
        )
    if not math.isinf(maxsize) and maxsize != int(maxsize):
        raise ValueError(f"maxsize must be a whole number or math.inf, got {maxsize!r}")
    return maxsize


def _check_common(
    address: object,
    linger_ms: object,
    context: object,
    curve: object,
    serde: object,
) -> None:
    if not isinstance(address, str) or "://" not in address:
        raise ValueError(
            f"address must be a ZeroMQ endpoint such as 'tcp://127.0.0.1:5555' or "
            f"'ipc:///tmp/x.sock' (or 'memory://name' in-process), got {address!r}"
        )
    if not isinstance(linger_ms, int) or isinstance(linger_ms, bool) or linger_ms < 0:
        raise ValueError(f"linger_ms must be an int >= 0 (milliseconds), got {linger_ms!r}")
    if context is not None and not isinstance(context, zmq.Context):
        raise TypeError(f"context must be a zmq.Context or None, not {type(context).__name__}")
    if curve is not None and not isinstance(curve, CurveServer | CurveClient):
        raise TypeError(f"curve must be a CurveServer, a CurveClient or None, not {curve!r}")
    if serde is not None and not (hasattr(serde, "encode") and hasattr(serde, "decode")):
        raise TypeError(f"serde must have encode() and decode() (a Serde), got {serde!r}")


def _liveness(
    clock: Clock | None,
    heartbeat_interval: float,
    peer_timeout: float | None,
    give_up_after: float | None,
    on_peer_state: StateCallback | None,
) -> tuple[Clock, Callable[[float], Liveness], float]:
    """Check the timing arguments now; build the tracker when the endpoint opens."""
    interval = check_seconds(heartbeat_interval, "heartbeat_interval", strict=True)
    timeout = (
        None if peer_timeout is None else check_seconds(peer_timeout, "peer_timeout", strict=True)
    )
    give_up = (
        None
        if give_up_after is None
        else check_seconds(give_up_after, "give_up_after", strict=True)
    )
    if on_peer_state is not None and not callable(on_peer_state):
        raise TypeError(f"on_peer_state must be callable, got {on_peer_state!r}")
    the_clock = clock if clock is not None else WallClock()
    the_timeout = timeout if timeout is not None else PEER_TIMEOUT_HEARTBEATS * interval
    return (
        the_clock,
        lambda now: Liveness(now, the_timeout, give_up, on_peer_state),
        interval,
    )


def _default_context() -> zmq.Context[Any]:
    return cast("zmq.Context[Any]", zmq.Context.instance())


def _is_cursor(value: object) -> bool:
    return value is None or isinstance(value, Cursor)


async def _wire(
    context: zmq.Context[Any],
    address: str,
    *,
    bind: bool,
    window: int,
    curve: CurveServer | CurveClient | None,
) -> Wire:
    if address.startswith(SCHEME):
        if curve is not None:
            raise ValueError(f"{address!r}: memory:// links are in-process; CURVE does not apply")
        return MemoryWire(address, bind=bind)
    zap = None
    if isinstance(curve, CurveServer):
        zap = await register_zap(context, curve.allowed_clients)
    try:
        return ZmqWire(context, address, bind=bind, hwm=_hwm(window), curve=curve, zap=zap)
    except BaseException:
        if zap is not None:
            await zap.release()
        raise


def _hwm(window: int) -> int:
    return 0 if window >= UNBOUNDED // 4 else max(MIN_HWM, 2 * window + 64)


@overload
def open_zmq_send(
    address: str,
    *,
    bind: bool = ...,
    maxsize: float = ...,
    serde: None = None,
    context: zmq.Context[Any] | None = ...,
    linger_ms: int = ...,
    clock: Clock | None = ...,
    heartbeat_interval: float = ...,
    peer_timeout: float | None = ...,
    give_up_after: float | None = ...,
    on_peer_state: StateCallback | None = ...,
    curve: CurveServer | CurveClient | None = ...,
) -> AbstractAsyncContextManager[ZmqSendStream[Any]]: ...
@overload
def open_zmq_send(
    address: str,
    *,
    bind: bool = ...,
    maxsize: float = ...,
    serde: Serde[T],
    context: zmq.Context[Any] | None = ...,
    linger_ms: int = ...,
    clock: Clock | None = ...,
    heartbeat_interval: float = ...,
    peer_timeout: float | None = ...,
    give_up_after: float | None = ...,
    on_peer_state: StateCallback | None = ...,
    curve: CurveServer | CurveClient | None = ...,
) -> AbstractAsyncContextManager[ZmqSendStream[T]]: ...
def open_zmq_send(
    address: str,
    *,
    bind: bool = False,
    maxsize: float = 0,
    serde: Serde[Any] | None = None,
    context: zmq.Context[Any] | None = None,
    linger_ms: int = 1000,
    clock: Clock | None = None,
    heartbeat_interval: float = 1.0,
    peer_timeout: float | None = None,
    give_up_after: float | None = None,
    on_peer_state: StateCallback | None = None,
    curve: CurveServer | CurveClient | None = None,
) -> AbstractAsyncContextManager[ZmqSendStream[Any]]:
    """Open the sending end of a remote channel: ``async with open_zmq_send(addr) as tx:``.

    The sender connects by default (``bind=True`` to bind). ``maxsize`` bounds the items
    in flight end to end (the smaller of both ends' values counts; 0 = rendezvous:
    an item leaves only when a ``receive()`` waits for it). ``serde`` defaults to
    ``MsgpackSerde()``. Heartbeats go out every ``heartbeat_interval`` seconds of
    ``clock`` (default :class:`~tickwork.WallClock`); a receiver silent for
    ``peer_timeout`` (default 3 heartbeats) is reported ``"silent"`` to
    ``on_peer_state`` and in the statistics; after ``give_up_after`` seconds (default:
    never) sends raise :class:`~tickwork.ChannelClosed`. On exit the sender closes (the
    receiver sees EndOfStream after the last item) and waits up to ``linger_ms`` of wall
    time for the receiving application to have everything.
    """
    max_items = _check_maxsize(maxsize)
    _check_common(address, linger_ms, context, curve, serde)
    the_clock, live, interval = _liveness(
        clock, heartbeat_interval, peer_timeout, give_up_after, on_peer_state
    )
    window = window_of(max_items)
    codec: Serde[Any] = serde if serde is not None else MsgpackSerde()
    ctx: zmq.Context[Any] = context if context is not None else _default_context()

    async def build() -> ZmqSendStream[Any]:
        wire = await _wire(ctx, address, bind=bool(bind), window=window, curve=curve)
        core = SenderCore(
            bound=wire.bound,
            live=live(the_clock.now()),
            endpoint=wire.endpoint,
            window=window,
            unbounded=math.isinf(max_items),
            session=_session(),
        )
        stream: ZmqSendStream[Any] = construct(
            ZmqSendStream[Any],
            wire=wire,
            core=core,
            clock=the_clock,
            serde=codec,
            heartbeat_interval=interval,
            maxsize=max_items,
        )
        return stream

    return Opening(build, linger_ms)


@overload
def open_zmq_receive(
    address: str,
    *,
    bind: bool = ...,
    maxsize: float = ...,
    serde: None = None,
    context: zmq.Context[Any] | None = ...,
    linger_ms: int = ...,
    clock: Clock | None = ...,
    heartbeat_interval: float = ...,
    peer_timeout: float | None = ...,
    give_up_after: float | None = ...,
    on_peer_state: StateCallback | None = ...,
    curve: CurveServer | CurveClient | None = ...,
    resume: Cursor | None = ...,
) -> AbstractAsyncContextManager[ZmqReceiveStream[Any]]: ...
@overload
def open_zmq_receive(
    address: str,
    *,
    bind: bool = ...,
    maxsize: float = ...,
    serde: Serde[T],
    context: zmq.Context[Any] | None = ...,
    linger_ms: int = ...,
    clock: Clock | None = ...,
    heartbeat_interval: float = ...,
    peer_timeout: float | None = ...,
    give_up_after: float | None = ...,
    on_peer_state: StateCallback | None = ...,
    curve: CurveServer | CurveClient | None = ...,
    resume: Cursor | None = ...,
) -> AbstractAsyncContextManager[ZmqReceiveStream[T]]: ...
def open_zmq_receive(
    address: str,
    *,
    bind: bool = True,
    maxsize: float = 0,
    serde: Serde[Any] | None = None,
    context: zmq.Context[Any] | None = None,
    linger_ms: int = 1000,
    clock: Clock | None = None,
    heartbeat_interval: float = 1.0,
    peer_timeout: float | None = None,
    give_up_after: float | None = None,
    on_peer_state: StateCallback | None = None,
    curve: CurveServer | CurveClient | None = None,
    resume: Cursor | None = None,
) -> AbstractAsyncContextManager[ZmqReceiveStream[Any]]:
    """Open the receiving end of a remote channel: ``async with open_zmq_receive(addr) as rx:``.

    The receiver binds by default. ``maxsize`` is the credit it grants (see
    :func:`open_zmq_send`). A sender silent past ``give_up_after`` makes ``receive()``
    raise :class:`~tickwork.EndOfStream` once the buffer is drained. ``resume`` is a
    :class:`Cursor` saved by an earlier incarnation of this receiver: the sender skips
    what that one already delivered. On exit the receiver closes (the sender's sends
    raise :class:`~tickwork.ChannelClosed`) and waits up to ``linger_ms`` of wall time
    for the sender to confirm.
    """
    max_items = _check_maxsize(maxsize)
    _check_common(address, linger_ms, context, curve, serde)
    if not _is_cursor(resume):
        raise TypeError(f"resume must be a Cursor or None, not {type(resume).__name__}")
    the_clock, live, interval = _liveness(
        clock, heartbeat_interval, peer_timeout, give_up_after, on_peer_state
    )
    window = window_of(max_items)
    codec: Serde[Any] = serde if serde is not None else MsgpackSerde()
    ctx: zmq.Context[Any] = context if context is not None else _default_context()

    async def build() -> ZmqReceiveStream[Any]:
        wire = await _wire(ctx, address, bind=bool(bind), window=window, curve=curve)
        core = ReceiverCore(
            bound=wire.bound,
            live=live(the_clock.now()),
            window=window,
            session=_session(),
            resume=resume,
            describe=wire.describe,
        )
        stream: ZmqReceiveStream[Any] = construct(
            ZmqReceiveStream[Any],
            wire=wire,
            core=core,
            clock=the_clock,
            serde=codec,
            heartbeat_interval=interval,
            maxsize=max_items,
        )
        return stream

    return Opening(build, linger_ms)


@overload
def open_zmq_channel(
    address: str,
    *,
    bind_receive: bool = ...,
    maxsize: float = ...,
    serde: None = None,
    context: zmq.Context[Any] | None = ...,
    linger_ms: int = ...,
    clock: Clock | None = ...,
    heartbeat_interval: float = ...,
    peer_timeout: float | None = ...,
    give_up_after: float | None = ...,
) -> AbstractAsyncContextManager[Channel[Any]]: ...
@overload
def open_zmq_channel(
    address: str,
    *,
    bind_receive: bool = ...,
    maxsize: float = ...,
    serde: Serde[T],
    context: zmq.Context[Any] | None = ...,
    linger_ms: int = ...,
    clock: Clock | None = ...,
    heartbeat_interval: float = ...,
    peer_timeout: float | None = ...,
    give_up_after: float | None = ...,
) -> AbstractAsyncContextManager[Channel[T]]: ...
def open_zmq_channel(
    address: str,
    *,
    bind_receive: bool = True,
    maxsize: float = 0,
    serde: Serde[Any] | None = None,
    context: zmq.Context[Any] | None = None,
    linger_ms: int = 1000,
    clock: Clock | None = None,
    heartbeat_interval: float = 1.0,
    peer_timeout: float | None = None,
    give_up_after: float | None = None,
) -> AbstractAsyncContextManager[Channel[Any]]:
    """Both ends of a ZeroMQ channel in this process, as a :class:`~tickwork.Channel`.

    The receive side binds ``address`` (``bind_receive=False``: the send side does) and
    the other end connects to the bound endpoint, so ``tcp://127.0.0.1:0`` works. Meant
    for tests and for trying remote wiring before splitting a program in two;
    ``memory://name`` runs the same protocol with no sockets at all.
    """
    _check_maxsize(maxsize)
    common: dict[str, Any] = {
        "maxsize": maxsize,
        "serde": serde,
        "context": context,
        "linger_ms": linger_ms,
        "clock": clock,
        "heartbeat_interval": heartbeat_interval,
        "peer_timeout": peer_timeout,
        "give_up_after": give_up_after,
    }

    @asynccontextmanager
    async def channel() -> AsyncGenerator[Channel[Any]]:
        async with AsyncExitStack() as stack:
            if bind_receive:
                rx = await stack.enter_async_context(open_zmq_receive(address, bind=True, **common))
                tx = await stack.enter_async_context(
                    open_zmq_send(rx.endpoint, bind=False, **common)
                )
            else:
                tx = await stack.enter_async_context(open_zmq_send(address, bind=True, **common))
                rx = await stack.enter_async_context(
                    open_zmq_receive(tx.endpoint, bind=False, **common)
                )
            yield Channel(tx, rx)

    return channel()
