"""Running in production: systemd notify and watchdog, health and metrics, CURVE keys.

``tickwork.run(..., health="127.0.0.1:8081")`` does all of it for a program whose root
is one Supervisor; :func:`serve_hosting` does it for a supervisor of your own. The
health endpoint itself lives in :mod:`tickwork.hosting.http` (extra ``http``). See
docs/deploy.md.
"""

from __future__ import annotations

from ._address import DEFAULT_HEALTH_HOST as DEFAULT_HEALTH_HOST
from ._keys import KeyNotFound as KeyNotFound
from ._keys import load_key as load_key
from ._monitor import STUCK_AFTER as STUCK_AFTER
from ._monitor import HealthMonitor as HealthMonitor
from ._monitor import HealthSummary as HealthSummary
from ._notify import SystemdNotifier as SystemdNotifier
from ._serve import STATUS_INTERVAL as STATUS_INTERVAL
from ._serve import serve_hosting as serve_hosting
from ._stats import StatsKind as StatsKind
from ._stats import StatsSample as StatsSample
from ._stats import register_stats as register_stats
from ._stats import unregister_stats as unregister_stats

__all__ = [
    "DEFAULT_HEALTH_HOST",
    "HealthMonitor",
    "HealthSummary",
    "KeyNotFound",
    "STATUS_INTERVAL",
    "STUCK_AFTER",
    "StatsKind",
    "StatsSample",
    "SystemdNotifier",
    "load_key",
    "register_stats",
    "serve_hosting",
    "unregister_stats",
]


def _fixup_module_metadata() -> None:
    """Make reprs and tracebacks say ``tickwork.hosting.X``."""
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith(__name__ + "._"):
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):
                continue


_fixup_module_metadata()
del _fixup_module_metadata
