"""How items become bytes on the wire and back: the ``Serde`` slot and its msgspec default."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar, final, overload

import msgspec

__all__ = ["MsgpackSerde", "Serde"]

T = TypeVar("T")


class Serde(Protocol[T]):
    """Turns items into bytes and back. ``decode`` raises ``ValueError`` on bad input.

    The receiver reports a ``ValueError`` from ``decode`` (msgspec's ``DecodeError`` and
    ``ValidationError`` are ones) as a :class:`~tickwork.transports.zmq.FrameError` and
    goes on with the next message. Never use pickle here: the bytes come from the network.
    """

    def encode(self, item: T, /) -> bytes:
        """The wire form of ``item``."""
        ...

    def decode(self, data: bytes, /) -> T:
        """The item ``data`` encodes; ``ValueError`` if it is malformed or of the wrong type."""
        ...


@final
class MsgpackSerde(Generic[T]):
    """MessagePack through msgspec, validating every decoded item against ``message_type``.

    ``message_type`` is anything msgspec can validate: ``int``, ``dict[str, float]``, a
    ``msgspec.Struct``, a dataclass, ``list[Point]``, a ``Union`` of tagged Structs.
    The default ``Any`` accepts every msgpack value (no validation).
    """

    __slots__ = ("_decoder", "_encoder", "message_type")

    @overload
    def __init__(self: MsgpackSerde[Any]) -> None: ...
    @overload
    def __init__(self, message_type: type[T]) -> None: ...
    @overload
    def __init__(self, message_type: Any) -> None: ...
    def __init__(self, message_type: Any = Any) -> None:
        self.message_type: Any = message_type
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(message_type)

    def __repr__(self) -> str:
        name = getattr(self.message_type, "__name__", None) or repr(self.message_type)
        return f"MsgpackSerde({name})"

    def encode(self, item: T, /) -> bytes:
        """Encode ``item`` as MessagePack (``TypeError`` if msgspec cannot encode it)."""
        try:
            return self._encoder.encode(item)
        except msgspec.EncodeError as exc:
            raise TypeError(f"{self!r} cannot encode {type(item).__name__}: {exc}") from exc

    def decode(self, data: bytes, /) -> T:
        """Decode and validate; ``msgspec.ValidationError`` / ``DecodeError`` on bad input."""
        return self._decoder.decode(data)
