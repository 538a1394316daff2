"""tickwork.recipes.latest.Latest: one-slot latest value with change waits."""

from __future__ import annotations

import anyio
import pytest

from tickwork import SimClock
from tickwork.recipes.latest import Latest


def test_get_returns_the_last_value_set_and_version_counts_sets() -> None:
    cell: Latest[int] = Latest()
    assert cell.get() is None
    assert cell.version == 0
    cell.set(1)
    cell.set(2)
    assert cell.get() == 2
    assert cell.version == 2
    assert Latest("x").get() == "x"


async def test_wait_changed_wakes_on_the_next_set_without_polling(sim_clock: SimClock) -> None:
    cell: Latest[str] = Latest("old")
    seen: list[str] = []

    async def reader() -> None:
        seen.append(await cell.wait_changed())

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(reader)
        with anyio.fail_after(10):  # a polling reader would never let the program idle
            await sim_clock.run_until_idle()
        assert seen == []
        cell.set("new")
    assert seen == ["new", "new"]


async def test_a_set_between_two_waits_is_not_missed_when_passing_the_version() -> None:
    cell: Latest[int] = Latest(0)
    seen = cell.version
    cell.set(1)  # happens while the reader is busy elsewhere
    with anyio.fail_after(5):
        assert await cell.wait_changed(seen) == 1


async def test_several_sets_while_the_reader_is_busy_coalesce_into_one_wake(
    sim_clock: SimClock,
) -> None:
    cell: Latest[int] = Latest(0)
    values: list[int] = []
    busy = anyio.Event()

    async def reader() -> None:
        seen = cell.version
        while len(values) < 2:
            values.append(await cell.wait_changed(seen))
            seen = cell.version
            await busy.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await sim_clock.run_until_idle()
        cell.set(1)
        await sim_clock.run_until_idle()
        cell.set(2)
        cell.set(3)
        busy.set()
    assert values == [1, 3]


async def test_a_cancelled_waiter_leaves_the_cell_usable(sim_clock: SimClock) -> None:
    cell: Latest[int] = Latest()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await cell.wait_changed()
    assert scope.cancelled_caught
    cell.set(5)
    with anyio.fail_after(5):
        assert await cell.wait_changed(0) == 5


@pytest.mark.parametrize("value", [None, 0])
def test_set_works_without_an_event_loop(value: int | None) -> None:
    cell: Latest[int | None] = Latest()
    cell.set(value)
    assert cell.get() == value
    assert cell.version == 1
