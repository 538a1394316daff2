"""Network-watch daemons: connectivity state machines, outage buffering, health ticks.

For daemons whose work depends on an external service. Everything is timed on
``ctx.clock``, so a whole outage-and-recovery scenario replays under SimClock in
milliseconds, identically every run. See docs/flaky-services.md.
"""

from __future__ import annotations

from tickwork._internals import fixup_module_metadata as _fixup_module_metadata

from ._backoff import Backoff as Backoff
from ._daemon import NetworkDaemon as NetworkDaemon
from ._health import HealthTarget as HealthTarget
from ._health import HealthTicker as HealthTicker
from ._health import TargetHealth as TargetHealth
from ._outbox import Outbox as Outbox
from ._outbox import OutboxChange as OutboxChange
from ._outbox import OutboxFailed as OutboxFailed
from ._outbox import OutboxFull as OutboxFull
from ._outbox import OutboxState as OutboxState
from ._outbox import OverflowPolicy as OverflowPolicy
from ._outbox import Sequenced as Sequenced
from ._status import NetworkStatus as NetworkStatus
from ._status import StatusChange as StatusChange

__all__ = [
    "Backoff",
    "HealthTarget",
    "HealthTicker",
    "NetworkDaemon",
    "NetworkStatus",
    "Outbox",
    "OutboxChange",
    "OutboxFailed",
    "OutboxFull",
    "OutboxState",
    "OverflowPolicy",
    "Sequenced",
    "StatusChange",
    "TargetHealth",
]


_fixup_module_metadata(__name__, globals(), __all__)
del _fixup_module_metadata
