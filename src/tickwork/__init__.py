"""tickwork: async daemons on anyio whose time tests replay deterministically.

Four primitives: a typed single-producer/single-consumer :func:`open_channel`, a
:class:`Clock` (:class:`WallClock` in production, :class:`SimClock` in tests), the
three-hook :class:`Daemon` (or ``@daemon``) and the :class:`Supervisor` that runs them.
"""

from __future__ import annotations

from importlib.metadata import version as _version

from ._channel import Channel as Channel
from ._channel import ChannelStats as ChannelStats
from ._channel import MemoryReceiveStream as MemoryReceiveStream
from ._channel import MemorySendStream as MemorySendStream
from ._channel import ReceiveStream as ReceiveStream
from ._channel import SendStream as SendStream
from ._channel import open_channel as open_channel
from ._clock import Clock as Clock
from ._clock import Ticks as Ticks
from ._clock import WallClock as WallClock
from ._context import Context as Context
from ._daemon import Daemon as Daemon
from ._daemon import DaemonFactory as DaemonFactory
from ._daemon import daemon as daemon
from ._exceptions import ChannelClosed as ChannelClosed
from ._exceptions import ChannelInUse as ChannelInUse
from ._exceptions import DaemonError as DaemonError
from ._exceptions import Deadlock as Deadlock
from ._exceptions import EndOfStream as EndOfStream
from ._exceptions import OnError as OnError
from ._exceptions import TickworkError as TickworkError
from ._exceptions import WouldBlock as WouldBlock
from ._health import DaemonFailurePhase as DaemonFailurePhase
from ._health import DaemonHealth as DaemonHealth
from ._health import DaemonState as DaemonState
from ._internals import fixup_module_metadata as _fixup_module_metadata
from ._logging import ClockAwareLoggerAdapter as ClockAwareLoggerAdapter
from ._restart import RestartPolicy as RestartPolicy
from ._run import run as run
from ._simclock import SimClock as SimClock
from ._supervisor import Strategy as Strategy
from ._supervisor import Supervisor as Supervisor

__version__: str = _version("tickwork")
"""The installed distribution's version: pyproject.toml is the one place it is set."""
del _version

__all__ = [
    "Channel",
    "ChannelClosed",
    "ChannelInUse",
    "ChannelStats",
    "Clock",
    "ClockAwareLoggerAdapter",
    "Context",
    "Daemon",
    "DaemonError",
    "DaemonFactory",
    "DaemonFailurePhase",
    "DaemonHealth",
    "DaemonState",
    "Deadlock",
    "EndOfStream",
    "MemoryReceiveStream",
    "MemorySendStream",
    "OnError",
    "ReceiveStream",
    "RestartPolicy",
    "SendStream",
    "SimClock",
    "Strategy",
    "Supervisor",
    "Ticks",
    "TickworkError",
    "WallClock",
    "WouldBlock",
    "daemon",
    "open_channel",
    "run",
]


_fixup_module_metadata(__name__, globals(), __all__)
del _fixup_module_metadata
