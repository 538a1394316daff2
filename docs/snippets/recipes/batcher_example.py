"""batcher: many callers, one model call per batch, a 10 ms window on the clock."""

from __future__ import annotations

import anyio

from tickwork import Channel, SimClock, open_channel
from tickwork.recipes.batcher import Pending, batcher_loop, submit


async def main() -> None:
    clock = SimClock()  # in a daemon, pass ctx.clock
    requests: Channel[Pending[str, int]] = open_channel(64)
    calls: list[list[str]] = []

    async def embed(texts: list[str]) -> list[int]:  # one call per batch
        calls.append(texts)
        return [len(t) for t in texts]

    answers: dict[str, int] = {}

    async def caller(text: str) -> None:
        answers[text] = await submit(requests.send, text)

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: batcher_loop(
                requests.recv, embed, max_batch=8, max_queue_delay=0.010, clock=clock
            )
        )
        for text in ("a", "bb", "ccc"):
            tg.start_soon(caller, text)
        await clock.advance(0.010)  # the window closes: one batch of three
        await requests.send.aclose()

    assert answers == {"a": 1, "bb": 2, "ccc": 3}
    assert len(calls) == 1


if __name__ == "__main__":
    anyio.run(main)
