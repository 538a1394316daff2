"""Real processes: the receiver is SIGKILLed and restarted mid-stream; nothing lost or doubled.

The receiving process prints every item with the cursor after it; the test plays the
part of the receiver's durable storage: it restarts the receiver with the last cursor
it saw, exactly as an application persisting its cursor would.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
from dataclasses import dataclass, field

import anyio
import pytest

from tickwork.transports.zmq import MsgpackSerde, open_zmq_send

CHILD = pathlib.Path(__file__).with_name("zmq_child.py")


@dataclass
class Run:
    received: list[int] = field(default_factory=list[int])
    per_incarnation: list[list[int]] = field(default_factory=list[list[int]])
    cursor: tuple[str, str] | None = None
    incarnations: int = 0
    resent: int = 0


async def run_with_kills(
    backend: str,
    address: str,
    *,
    sender_binds: bool,
    total: int,
    kills: int,
    maxsize: int = 64,
    resume: bool = True,
) -> Run:
    run = Run()
    thresholds = [total * (k + 1) // (kills + 1) for k in range(kills)]
    async with open_zmq_send(
        address, bind=sender_binds, maxsize=maxsize, serde=MsgpackSerde(int)
    ) as tx:
        child_address = tx.endpoint if sender_binds else address

        async def produce() -> None:
            for i in range(total):
                await tx.send(i)
            await tx.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            while True:
                cmd = [
                    sys.executable,
                    str(CHILD),
                    child_address,
                    "0" if sender_binds else "1",
                    str(maxsize),
                    backend,
                    *((run.cursor or ()) if resume else ()),
                ]
                kill_at = thresholds[run.incarnations] if run.incarnations < kills else None
                run.incarnations += 1
                mine: list[int] = []
                run.per_incarnation.append(mine)
                finished = False
                async with await anyio.open_process(
                    cmd, stdin=subprocess.DEVNULL, stderr=None
                ) as proc:
                    assert proc.stdout is not None
                    pending = b""
                    killed = False
                    async for chunk in proc.stdout:
                        *lines, pending = (pending + chunk).split(b"\n")
                        for line in lines:
                            if line == b"EOF":
                                finished = True
                                continue
                            item, session, seq = line.decode().split()
                            run.received.append(int(item))
                            mine.append(int(item))
                            run.cursor = (session, seq)
                        if not killed and kill_at is not None and len(run.received) >= kill_at:
                            proc.kill()  # SIGKILL
                            killed = True
                    await proc.wait()
                if finished:
                    assert proc.returncode == 0, f"receiver exited with {proc.returncode}"
                    break
                assert killed, f"receiver died on its own with {proc.returncode}"
        run.resent = tx.transport_statistics().resent
    return run


def check(run: Run, total: int, kills: int) -> None:
    assert run.incarnations == kills + 1
    lost = sorted(set(range(total)) - set(run.received))
    dups = len(run.received) - len(set(run.received))
    assert not lost, f"{len(lost)} lost, first {lost[:10]}"
    assert dups == 0, f"{dups} duplicated"
    assert run.received == list(range(total)), "order not kept"


@pytest.mark.parametrize(("transport", "kills"), [("tcp", 2), ("ipc", 1)])
async def test_receiver_sigkilled_and_restarted(
    anyio_backend: str, transport: str, kills: int, ipc_dir: pathlib.Path
) -> None:
    total = 2_000
    address = "tcp://127.0.0.1:0" if transport == "tcp" else f"ipc://{ipc_dir}/k.sock"
    # tcp: the sender binds (its port outlives the receivers); ipc: each receiver binds.
    with anyio.fail_after(40):
        run = await run_with_kills(
            anyio_backend, address, sender_binds=transport == "tcp", total=total, kills=kills
        )
    check(run, total, kills)


async def test_without_a_cursor_a_restart_redelivers_at_most_maxsize_plus_one(
    anyio_backend: str,
) -> None:
    # docs/zmq.md (Limits): without resume=, what the killed receiver had been given and
    # the sender had not yet seen acknowledged comes again: at most maxsize + 1 items.
    total, kills, maxsize = 600, 1, 16
    with anyio.fail_after(40):
        run = await run_with_kills(
            anyio_backend,
            "tcp://127.0.0.1:0",
            sender_binds=True,
            total=total,
            kills=kills,
            maxsize=maxsize,
            resume=False,
        )
    seen: set[int] = set()
    first_seen: list[int] = []
    for items in run.per_incarnation:
        again = [item for item in items if item in seen]
        assert len(again) <= maxsize + 1, f"{len(again)} redelivered after a restart"
        assert items[: len(again)] == again, "redelivered items come first, in order"
        first_seen += [item for item in items if item not in seen]
        seen.update(items)
    assert first_seen == list(range(total)), "lost or reordered"


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
async def test_receiver_sigkilled_five_times_100k(
    anyio_backend: str, transport: str, ipc_dir: pathlib.Path
) -> None:
    total, kills = 100_000, 5
    address = "tcp://127.0.0.1:0" if transport == "tcp" else f"ipc://{ipc_dir}/k.sock"
    with anyio.fail_after(600):
        run = await run_with_kills(
            anyio_backend, address, sender_binds=transport == "tcp", total=total, kills=kills
        )
    check(run, total, kills)
    print(f"{transport}/{anyio_backend}: {total} items, {kills} kills, resent {run.resent}")
