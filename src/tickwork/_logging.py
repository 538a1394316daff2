"""Loggers that stamp every record with the daemon's clock time."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final, final

if TYPE_CHECKING:
    from ._clock import Clock

__all__ = ["NO_DAEMON", "ClockAwareLoggerAdapter", "child_logger", "library_logger"]

NO_DAEMON: Final = "-"
"""``record.daemon`` on records that concern no single daemon (the supervisor's own)."""


@final
class ClockAwareLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """A LoggerAdapter that puts ``clock.now()`` on every record as ``record.sim_time``.

    Every record also gets ``record.daemon`` (``"-"`` unless ``extra`` names one), so
    ``%(sim_time).3f`` and ``%(daemon)s`` work in any format string. A caller's own
    ``extra={"sim_time": ...}`` wins. Under SimClock this makes logs line up with
    virtual time.
    """

    def __init__(
        self, logger: logging.Logger, clock: Clock, extra: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(logger, extra or {})
        self.clock = clock

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        """Merge our fields into the call's ``extra``, keeping the caller's values."""
        extra: dict[str, object] = {"sim_time": self.clock.now(), "daemon": NO_DAEMON}
        if self.extra:
            extra.update(self.extra)
        caller = kwargs.get("extra")
        if caller:
            extra.update(caller)
        kwargs["extra"] = extra
        return msg, kwargs


def child_logger(parent: logging.Logger, name: str) -> logging.Logger:
    """The logger for daemon ``name``: ``parent.name + '.' + name``, propagating to ``parent``.

    If the application registered that name (``logging.getLogger("tickwork.outbox")``,
    or ``dictConfig``), that Logger is used, so its level and handlers apply. Otherwise
    the logger is not registered in the logging manager, so a supervisor hosting
    daemons with per-session names does not leak one Logger per name: it is garbage
    once the daemon ends, and the parent's configuration applies.
    """
    full = f"{parent.name}.{name}"
    registered = logging.Logger.manager.loggerDict.get(full)
    if isinstance(registered, logging.Logger):
        return registered
    logger = _ChildLogger(full)
    logger.parent = parent
    return logger


@final
class _ChildLogger(logging.Logger):
    """A Logger outside the manager's registry, so it must not cache ``isEnabledFor``.

    ``Logger.setLevel`` and ``logging.disable`` clear the level caches of registered
    loggers only; a cached answer here would ignore a later level change on the parent.
    """

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's spelling
        """Decide from the current levels every time (no cache to go stale)."""
        if self.disabled or self.manager.disable >= level:
            return False
        return level >= self.getEffectiveLevel()


@final
class _StampDefaults(logging.Filter):
    """Give a record logged straight on a library logger ``daemon`` and ``sim_time``.

    Such records come from code with no daemon clock at hand (the entry point, a
    transport's I/O task); ``sim_time`` is then the monotonic wall clock, so a format
    string using ``%(sim_time).3f`` or ``%(daemon)s`` never fails on them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the missing fields; never drops a record."""
        fields = record.__dict__
        fields.setdefault("daemon", NO_DAEMON)
        fields.setdefault("sim_time", time.monotonic())
        return True


_STAMP: Final = _StampDefaults()


def library_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with tickwork's record fields guaranteed (see above)."""
    logger = logging.getLogger(name)
    if _STAMP not in logger.filters:
        logger.addFilter(_STAMP)
    return logger
