"""Same-instant ordering on trio as a function of a seed (SimClock guarantee 1).

trio runs the tasks that became runnable together (one "batch") in an order it
randomises: it reverses the batch when ``_r.random() < 0.5`` (``_r`` is the module
RNG of ``trio._core._run``), or, with ``_ALLOW_DETERMINISTIC_SCHEDULING`` (turned on
by hypothesis's trio plugin), sorts it by spawn counter and shuffles it with ``_r``.
trio pops tasks from the end of the batch, so a batch that is always reversed runs in
the order the tasks were rescheduled: FIFO, as asyncio does.

The order in which a batch was rescheduled is not itself stable: ``trio.Event.set``
walks a set of tasks, so six waiters are rescheduled in an order that varies by
run. So while a SimClock drives, this module turns the deterministic path on and
swaps in its own RNG: the batch is sorted by task counter (spawn order) and then
"shuffled": reversed for seed 0, so trio (popping from the end) runs the batch in
spawn order, which is the order asyncio's FIFO gives for tasks spawned and parked in
order; shuffled by ``random.Random(seed)`` for other seeds, a reproducible
permutation per batch. These are trio private names (ADR 0019; canary
``tests/test_sched.py``).
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
    """trio's scheduler RNG stand-in: seed 0 runs a sorted batch in spawn order."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._spawn_order = seed == 0

    def random(self) -> float:
        # The non-deterministic path reverses when this is < 0.5: FIFO for seed 0.
        return 0.0 if self._spawn_order else super().random()

    def shuffle(self, x: Any) -> None:
        if self._spawn_order:
            x.reverse()  # trio pops from the end: lowest counter first
        else:
            super().shuffle(x)


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
        setattr(run, _DETERMINISTIC_NAME, True)

    def exit(self) -> None:
        run = sys.modules.get(_RUN_MODULE)
        if run is None or not _saved:
            return
        rng, flag = _saved.pop()
        setattr(run, _RNG_NAME, rng)
        setattr(run, _DETERMINISTIC_NAME, flag)
