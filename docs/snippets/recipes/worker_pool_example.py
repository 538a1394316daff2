"""worker_pool: four concurrent fetchers; a failed fetch is a result, not a crash."""

from __future__ import annotations

import anyio

from tickwork import Channel, SimClock, open_channel
from tickwork.recipes.worker_pool import worker_pool


async def main() -> None:
    clock = SimClock()  # stands in for network latency; use ctx.clock in a daemon
    urls: Channel[str] = open_channel(16)
    results: Channel[str | Exception] = open_channel(16)

    async def fetch(url: str) -> str:
        await clock.sleep(1.0)
        if url.endswith("/missing"):
            raise LookupError(url)
        return f"body of {url}"

    bodies: list[str] = []
    errors: list[Exception] = []

    async def collect() -> None:
        async for result in results.recv:
            if isinstance(result, Exception):
                errors.append(result)
            else:
                bodies.append(result)

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: worker_pool(urls.recv, results.send, fetch, workers=4))
        tg.start_soon(collect)
        async with urls.send:
            for i in range(7):
                await urls.send.send(f"https://example.test/{i}")
            await urls.send.send("https://example.test/missing")
        await clock.advance(2.0)  # 8 fetches of 1 s on 4 workers: 2 virtual seconds

    assert len(bodies) == 7
    assert [type(e) for e in errors] == [LookupError]


if __name__ == "__main__":
    anyio.run(main)
