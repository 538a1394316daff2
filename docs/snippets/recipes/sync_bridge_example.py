"""host_async_dispatcher: blocking code (a Flask view, a CLI) feeds an async daemon."""

from __future__ import annotations

from tickwork import Channel, Context, ReceiveStream, SendStream, Supervisor, daemon, open_channel
from tickwork.recipes.sync_bridge import host_async_dispatcher


class Jobs:
    """What the synchronous side calls (through the portal)."""

    def __init__(self, send: SendStream[str], done: list[str]) -> None:
        self._send = send
        self.done = done

    async def submit(self, job: str) -> None:
        await self._send.send(job)


@daemon
async def runner(ctx: Context, jobs: ReceiveStream[str], done: list[str]) -> None:
    async for job in jobs:
        done.append(job.upper())


async def setup(sup: Supervisor) -> Jobs:
    ch: Channel[str] = open_channel(0)
    done: list[str] = []
    sup.add(runner(ch.recv, done))
    return Jobs(ch.send, done)


def main(backend: str = "asyncio") -> None:
    with host_async_dispatcher(setup, backend=backend) as (portal, jobs):
        for job in ("resize", "upload"):
            portal.call(jobs.submit, job)  # blocks this thread until the daemon took it
        done = portal.call(lambda: list(jobs.done))
    # Leaving the block stopped the supervisor and joined its thread.
    assert done == ["RESIZE", "UPLOAD"]


if __name__ == "__main__":
    main()
