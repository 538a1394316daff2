"""Shared configuration. Backends come from the tickwork pytest plugin (tickwork_backends)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put every logger's level, handlers, propagate and disabled flag back afterwards.

    For tests that run user-facing configuration (``logging.config.dictConfig`` in a doc
    block): without it, a later test's caplog sees nothing from a logger set not to
    propagate.
    """
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    saved = [
        (lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for lg in loggers
        if isinstance(lg, logging.Logger)
    ]
    yield
    known = {id(entry[0]) for entry in saved}
    for lg in logging.Logger.manager.loggerDict.values():
        if isinstance(lg, logging.Logger) and id(lg) not in known:  # made by the test
            saved.append((lg, logging.NOTSET, [], True, False))
    for lg, level, handlers, propagate, disabled in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.disabled = disabled
