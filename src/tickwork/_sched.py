"""Same-instant ordering on trio as a function of a seed (SimClock guarantee 1).

trio runs the tasks that became runnable together (one "batch") in an order it
randomises: it reverses the batch when ``_r.random() < 0.5`` (``_r`` is the module
RNG of ``trio._core._run``), or, with ``_ALLOW_DETERMINISTIC_SCHEDULING`` (turned on
by hypothesis's trio plugin), sorts it by spawn counter and shuffles it with ``_r``.
trio pops tasks from the end of the batch, so a batch that is always reversed runs in
the order the tasks were rescheduled: FIFO, as asyncio does.

While a SimClock drives, this module swaps in its own RNG and turns the
deterministic-sort path off: seed 0 always reverses (FIFO); other seeds reverse or
not by a ``random.Random(seed)`` stream, a reproducible permutation per batch. These
are trio private names (ADR 0019; canary ``tests/test_sched.py``).
"""

from __future__ import annotations

import random
import sys
from typing import Any, final

__all__ = ["SeededScheduling"]

_RUN_MODULE = "trio._core._run"
_RNG_NAME = "_r"
_DETERMINISTIC_NAME = "_ALLOW_DETERMINISTIC_SCHEDULING"


@final
class _BatchOrder(random.Random):
    """trio's scheduler RNG stand-in: ``random() < 0.5`` reverses a batch (FIFO)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._fifo = seed == 0

    def random(self) -> float:
        return 0.0 if self._fifo else super().random()


_saved: list[tuple[Any, Any]] = []  # (trio's RNG, its deterministic flag) per active entry


@final
class SeededScheduling:
    """Install this seed's batch order into trio while entered (nests; LIFO restore)."""

    __slots__ = ("_rng",)

    def __init__(self, seed: int) -> None:
        self._rng = _BatchOrder(seed)

    def enter(self) -> None:
        run = sys.modules.get(_RUN_MODULE)
        if run is None:
            return
        _saved.append((getattr(run, _RNG_NAME), getattr(run, _DETERMINISTIC_NAME)))
        setattr(run, _RNG_NAME, self._rng)
        setattr(run, _DETERMINISTIC_NAME, False)

    def exit(self) -> None:
        run = sys.modules.get(_RUN_MODULE)
        if run is None or not _saved:
            return
        rng, flag = _saved.pop()
        setattr(run, _RNG_NAME, rng)
        setattr(run, _DETERMINISTIC_NAME, flag)
