"""Daemons in child processes, supervised over a typed ZeroMQ control plane.

``pip install tickwork[zmq]``. ``sup.add(ProcessDaemon("pkg.mod:factory", arg))`` runs
the daemons that ``factory(arg)`` returns in a child Python process; the parent's
``on_error`` policy applies to the child's crashes, kills, hangs and silences. See
docs/cluster.md and ADRs 0033-0035.
"""

from __future__ import annotations

from ._errors import ChildLost as ChildLost
from ._errors import ControlPlaneError as ControlPlaneError
from ._errors import RemoteDaemonError as RemoteDaemonError
from ._messages import ChildDaemonHealth as ChildDaemonHealth
from ._messages import ChildStatus as ChildStatus
from ._process import DEFAULT_COMMAND as DEFAULT_COMMAND
from ._process import ProcessDaemon as ProcessDaemon

__all__ = [
    "ChildDaemonHealth",
    "ChildLost",
    "ChildStatus",
    "ControlPlaneError",
    "DEFAULT_COMMAND",
    "ProcessDaemon",
    "RemoteDaemonError",
]


def _fixup_module_metadata() -> None:
    """Make reprs and tracebacks say ``tickwork.cluster.X``."""
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith(__name__ + "._"):
            try:
                obj.__module__ = __name__
            except (AttributeError, TypeError):
                continue


_fixup_module_metadata()
del _fixup_module_metadata
