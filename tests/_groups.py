"""Helpers for asserting on exception groups escaping a Supervisor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest


def leaves(group: BaseException) -> list[BaseException]:
    """Every non-group exception inside ``group``, depth first."""
    if isinstance(group, BaseExceptionGroup):
        found: list[BaseException] = []
        for exc in group.exceptions:
            found.extend(leaves(exc))
        return found
    return [group]


async def raises_group(body: Callable[[], Awaitable[None]]) -> BaseExceptionGroup[BaseException]:
    """Run ``body``; return the exception group that escapes it (fail if none does)."""
    try:
        await body()
    except BaseExceptionGroup as group:
        return group
    pytest.fail("no exception group escaped")
