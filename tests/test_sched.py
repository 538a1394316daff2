"""Canary for ADR 0019: the trio scheduler internals that seeded ordering relies on."""

from __future__ import annotations

import inspect
import random

import trio

from tickwork._sched import SeededScheduling


def test_trio_scheduler_batch_order_hooks_exist() -> None:
    run = trio._core._run
    assert isinstance(run._r, random.Random)
    assert isinstance(run._ALLOW_DETERMINISTIC_SCHEDULING, bool)
    source = inspect.getsource(run.unrolled_run)
    for needle in (
        "if _ALLOW_DETERMINISTIC_SCHEDULING:",
        "batch.sort(key=lambda t: t._counter)",
        "_r.shuffle(batch)",
        "task = batch.pop()",
    ):
        assert needle in source, needle


def test_seeded_scheduling_restores_what_it_replaced() -> None:
    run = trio._core._run
    before = (run._r, run._ALLOW_DETERMINISTIC_SCHEDULING)
    outer, inner = SeededScheduling(0), SeededScheduling(5)
    outer.enter()
    inner.enter()
    assert run._ALLOW_DETERMINISTIC_SCHEDULING is True
    inner.exit()
    outer.exit()
    assert (run._r, run._ALLOW_DETERMINISTIC_SCHEDULING) == before
