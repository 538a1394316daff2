"""The health endpoint on a real loopback port, with a real HTTP client and raw sockets."""

from __future__ import annotations

import anyio
import httpx

from tickwork import Channel, Context, SimClock, Supervisor, open_channel
from tickwork.hosting import register_stats, serve_hosting


async def test_livez_readyz_metrics_and_bad_requests() -> None:
    clock = SimClock()
    ch: Channel[int] = open_channel(4)

    async def idle(ctx: Context) -> None:
        await ctx.stop_event.wait()

    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock) as sup:
            sup.spawn(idle, name="idle")
            register_stats(sup, "jobs", ch.send)
            address = await tg.start(
                lambda task_status: serve_hosting(
                    sup, notify=False, health="127.0.0.1:0", task_status=task_status
                )
            )
            await sup.wait_all_started()
            await clock.advance(1.0)
            async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                assert (await client.get("/livez")).status_code == 200
                ready = await client.get("/readyz")
                assert ready.status_code == 200
                assert ready.json()["daemons"][0]["name"] == "idle"
                metrics = (await client.get("/metrics")).text
                assert 'tickwork_daemon_state{daemon="idle",state="running"} 1.0' in metrics
                assert 'tickwork_channel_current_buffer_used{source="jobs"} 0.0' in metrics
                assert (await client.get("/nope")).status_code == 404
                assert (await client.post("/readyz")).status_code == 405
            async with await anyio.connect_tcp(*address.rsplit(":", 1)) as raw:
                await raw.send(b"NOT HTTP AT ALL\r\n\r\n")
                reply = await raw.receive()
                assert reply.startswith(b"HTTP/1.1 400")
            sup.signal_stop()
            async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                assert (await client.get("/readyz")).status_code == 503
            await sup.stop()
        tg.cancel_scope.cancel()
