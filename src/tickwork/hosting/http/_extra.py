"""Probe the ``http`` extra first, so a missing dependency says how to install it."""

from __future__ import annotations

try:
    import h11
    import prometheus_client
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        f"tickwork.hosting.http (the health endpoint) needs h11 and prometheus_client "
        f"({exc.name} is missing): pip install tickwork[http]",
        name=exc.name,
    ) from exc

__all__ = ["h11", "prometheus_client"]
