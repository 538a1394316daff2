"""Probe the ``zmq`` extra first, so a missing dependency says how to install it."""

from __future__ import annotations

try:
    import msgspec
    import zmq
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        f"tickwork.transports.zmq needs pyzmq and msgspec ({exc.name} is missing): "
        "pip install tickwork[zmq]",
        name=exc.name,
    ) from exc

__all__ = ["msgspec", "zmq"]
