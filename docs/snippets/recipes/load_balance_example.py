"""load_balance: spread jobs over three shards, each job to exactly one shard."""

from __future__ import annotations

import anyio

from tickwork import Channel, ReceiveStream, open_channel
from tickwork.recipes.load_balance import load_balance


async def main() -> None:
    jobs: Channel[int] = open_channel(16)
    shards: list[Channel[int]] = [open_channel(4) for _ in range(3)]
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}

    async def shard(index: int, recv: ReceiveStream[int]) -> None:
        async for job in recv:
            seen[index].append(job)

    async with anyio.create_task_group() as tg:
        tg.start_soon(load_balance, jobs.recv, [s.send for s in shards])
        for index, ch in enumerate(shards):
            tg.start_soon(shard, index, ch.recv)
        async with jobs.send:
            for job in range(9):
                await jobs.send.send(job)

    # Strict round-robin: job k went to shard k % 3.
    assert seen == {0: [0, 3, 6], 1: [1, 4, 7], 2: [2, 5, 8]}


if __name__ == "__main__":
    anyio.run(main)
