"""The issue-8 reproduction: one seeded Outbox outage, replayed many times on each backend.

When the link comes back, one ``anyio.Event`` wakes the Outbox's ``connect`` and
three sensors at once, and each sensor sends a burst into a small ``drop_oldest``
buffer: how many messages survive depends on the order those woken tasks run in. With
trio's own random batch order this gives 33 distinct histories in 50 runs, posting 36
messages in some and 40 in others (the issue saw 96 and 98 in its outage); with the
SimClock ordering same-instant batches it is a function of the seed, and with seed 0
it is the order asyncio gives.
"""

from __future__ import annotations

import hashlib

import anyio
import sniffio

from tickwork import Context, SimClock, Supervisor
from tickwork.network import Backoff, Outbox, OutboxChange, Sequenced

RUNS = 50
SENSORS = 3
BURST = 5  # messages each sensor sends when the link comes back
Outcome = tuple[int, str]  # (messages the peer received, digest of the whole history)


async def seeded_outage(seed: int = 0) -> Outcome:
    clock = SimClock(seed=seed)
    link_up = True
    restored = anyio.Event()
    history: list[str] = []
    received: list[str] = []

    async def connect() -> None:
        await restored.wait()

    async def post(batch: list[Sequenced[str]]) -> None:
        await clock.sleep(0.5)
        if not link_up:
            history.append(f"{clock.now()} fail {batch[0].seq}")
            raise ConnectionError("peer unreachable")
        received.extend(m.item for m in batch)
        history.append(f"{clock.now()} ok {[m.item for m in batch]}")

    async def on_state(change: OutboxChange) -> None:
        history.append(f"{change.time} {change.new.value}")

    box: Outbox[str] = Outbox(
        post,
        connect=connect,
        maxsize=8,
        overflow="drop_oldest",
        batch_size=4,
        backoff=Backoff(min=1.0, max=4.0, jitter=0.2, seed=7),
        on_state=on_state,
    )
    restored.set()  # the first connect goes through

    async def sensor(ctx: Context, name: str) -> None:
        for k in range(4):
            await restored.wait()
            for i in range(BURST):
                await box.send(f"{name}{k}.{i}")
            await ctx.clock.sleep(3)

    async def link(ctx: Context) -> None:
        nonlocal link_up, restored
        for start, end in ((2, 9), (14, 20)):
            await ctx.clock.wait_until(start)
            link_up, restored = False, anyio.Event()
            await ctx.clock.wait_until(end)
            link_up = True
            restored.set()

    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        for name in "xyz"[:SENSORS]:
            sup.spawn(sensor, name, name=f"sensor {name}")
        sup.spawn(link)
        await clock.advance_to(60)
        await box.aclose()
        await clock.advance_to(90)
        await sup.stop()
    history.append(f"dropped={box.dropped} delivered={box.delivered}")
    return len(received), hashlib.sha256("|".join(history).encode()).hexdigest()[:16]


# The one outcome, on asyncio and on trio alike (seed 0): the count, and a digest of
# the whole history (every post with its messages, every state change, with times).
EXPECTED = (36, "945500722f4879a6")


async def _outcomes(runs: int, seed: int = 0) -> set[Outcome]:
    return {await seeded_outage(seed) for _ in range(runs)}


async def test_the_seeded_outbox_outage_gives_one_trace_in_fifty_runs_on_both_backends() -> None:
    assert await _outcomes(RUNS) == {EXPECTED}


async def test_the_outage_depends_on_same_instant_order_which_another_seed_replays() -> None:
    # The scenario is sensitive to the order: on trio other seeds give other outcomes,
    # each one reproducible; asyncio has one order (FIFO) whatever the seed.
    others = {seed: await _outcomes(RUNS // 10, seed) for seed in (1, 2, 3)}
    assert all(len(seen) == 1 for seen in others.values()), others
    if sniffio.current_async_library() == "trio":
        assert any(seen != {EXPECTED} for seen in others.values())
    else:
        assert all(seen == {EXPECTED} for seen in others.values())
