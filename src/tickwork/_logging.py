"""Loggers that stamp every record with the daemon's clock time."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._clock import Clock

__all__ = ["ClockAwareLoggerAdapter", "child_logger"]


@final
class ClockAwareLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """A LoggerAdapter that puts ``clock.now()`` on every record as ``record.sim_time``.

    A caller's own ``extra={"sim_time": ...}`` wins. Under SimClock this makes logs
    line up with virtual time; use ``%(sim_time).3f`` in a format string.
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
        extra: dict[str, object] = {"sim_time": self.clock.now()}
        if self.extra:
            extra.update(self.extra)
        caller = kwargs.get("extra")
        if caller:
            extra.update(caller)
        kwargs["extra"] = extra
        return msg, kwargs


def child_logger(parent: logging.Logger, name: str) -> logging.Logger:
    """A logger named ``parent.name + '.' + name`` that propagates to ``parent``.

    Unlike ``parent.getChild(name)`` it is not registered in the logging manager, so a
    supervisor hosting daemons with per-session names does not leak one Logger per
    name: it is garbage once the daemon ends. Configure handlers and levels on the
    parent (the supervisor's logger); the child inherits them.
    """
    logger = _ChildLogger(f"{parent.name}.{name}")
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
