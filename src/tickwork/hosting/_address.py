"""``health="127.0.0.1:8081"``: where the health endpoint listens, loopback unless told."""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_HEALTH_HOST", "parse_address"]

DEFAULT_HEALTH_HOST: Final = "127.0.0.1"
"""The host a bare port (``"8081"`` or ``":8081"``) binds: loopback, never every interface."""

_MAX_PORT: Final = 65535


def parse_address(address: object) -> tuple[str, int]:
    """``"host:port"``, ``"[v6]:port"``, ``":port"`` or ``"port"`` -> ``(host, port)``."""
    if not isinstance(address, str):
        raise TypeError(f"health address must be a str like '127.0.0.1:8081', got {address!r}")
    host, sep, port_text = address.rpartition(":")
    if not sep:
        host, port_text = "", address
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"health address {address!r}: write an IPv6 host in brackets, [::1]:8081")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= _MAX_PORT:
        raise ValueError(
            f"health address {address!r} needs a port 0-{_MAX_PORT}, e.g. '127.0.0.1:8081'"
        )
    return host or DEFAULT_HEALTH_HOST, port
