"""A child's daemons in the parent's snapshot(), and so in hosting's /readyz and /metrics."""

from __future__ import annotations

import anyio
import httpx

import tickwork
from tickwork import Supervisor
from tickwork.cluster import RemoteDaemonError
from tickwork.hosting import serve_hosting
from tickwork.hosting.http import METRICS_MAX_AGE

from .conftest import Records, make


async def test_child_daemons_appear_in_snapshot_readyz_and_metrics(
    backend: str, records: Records
) -> None:
    jobs: tickwork.Channel[str] = tickwork.open_channel(1)
    pair = make("idle_pair", "x", backend=backend, name="pair")
    bomb = make("explode_on_job", backend=backend, name="bomb", channels={"jobs": jobs.recv})
    sup = Supervisor(on_error="ignore")
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            async with sup:
                sup.add(pair)
                sup.add(bomb)
                address = await tg.start(
                    lambda task_status: serve_hosting(
                        sup, notify=False, health="127.0.0.1:0", task_status=task_status
                    )
                )
                await sup.wait_all_started()
                await pair.next_health()
                await bomb.next_health()  # (by now hosting saw wait_all_started return)
                snapshot = sup.snapshot()
                assert sorted(snapshot) == [
                    "bomb",
                    "bomb/explode_on_job",
                    "pair",
                    "pair/idle",
                    "pair/second",
                ]
                idle = snapshot["pair/idle"]
                assert idle.name == "pair/idle"
                assert (idle.state, idle.restart_count, idle.last_error) == ("running", 0, None)
                assert idle.uptime is not None
                assert idle.started_at is None  # the child's clock is not this supervisor's
                async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                    ready = await client.get("/readyz")
                    assert ready.status_code == 200
                    names = {d["name"]: d["state"] for d in ready.json()["daemons"]}
                    assert names["pair/second"] == names["bomb/explode_on_job"] == "running"
                    metrics = (await client.get("/metrics")).text
                    assert 'tickwork_daemon_state{daemon="pair/idle",state="running"} 1.0' in (
                        metrics
                    )
                    assert 'tickwork_daemons{state="running"} 5.0' in metrics

                    await jobs.send.send("fuse lit")
                    bomb_failed = "daemon 'bomb' failed"
                    await records.wait_for(lambda r: r.getMessage().startswith(bomb_failed))
                    failed = sup.snapshot()
                    assert "bomb/explode_on_job" not in failed  # that child is gone ...
                    assert failed["bomb"].state == "failed"  # ... and this says how
                    cause = failed["bomb"].last_error
                    assert isinstance(cause, RemoteDaemonError)
                    assert cause.remote_daemon == "explode_on_job"
                    ready = await client.get("/readyz")
                    assert ready.status_code == 503
                    bomb_entry = next(d for d in ready.json()["daemons"] if d["name"] == "bomb")
                    assert "fuse lit" in bomb_entry["last_error"]
                    # The body rendered before the failure is served for one period
                    # (ADR 0038); the next render shows it.
                    await sup.clock.sleep(METRICS_MAX_AGE)
                    metrics = (await client.get("/metrics")).text
                    assert "tickwork_ready 0.0" in metrics
                    assert 'tickwork_daemon_state{daemon="bomb",state="failed"} 1.0' in metrics
                    assert 'tickwork_daemon_state{daemon="pair/idle",state="running"}' in metrics
                await sup.stop()
            tg.cancel_scope.cancel()
    assert "pair/idle" not in sup.snapshot()  # stopped: only the parent entries are left
