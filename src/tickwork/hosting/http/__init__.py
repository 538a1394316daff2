"""The health endpoint (extra ``http``): ``/livez``, ``/readyz`` and Prometheus ``/metrics``.

``pip install tickwork[http]`` (h11 and prometheus_client). Usually started for you by
``tickwork.run(..., health="127.0.0.1:8081")`` or :func:`tickwork.hosting.serve_hosting`.
"""

from __future__ import annotations

# First, so that a missing extra fails with the install command in the message.
from ._extra import h11 as _h11

# isort: split
from ._server import HEADER_TIMEOUT as HEADER_TIMEOUT
from ._server import MAX_CONNECTIONS as MAX_CONNECTIONS
from ._server import MAX_HEAD_BYTES as MAX_HEAD_BYTES
from ._server import METRICS_MAX_AGE as METRICS_MAX_AGE
from ._server import WRITE_TIMEOUT as WRITE_TIMEOUT
from ._server import serve_health as serve_health

__all__ = [
    "HEADER_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_HEAD_BYTES",
    "METRICS_MAX_AGE",
    "WRITE_TIMEOUT",
    "serve_health",
]

del _h11
