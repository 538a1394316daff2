"""ProcessDaemon with real child processes, on both backends (children run on the same one)."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

import tickwork
from tickwork import DaemonError, RestartPolicy, Strategy, Supervisor
from tickwork.cluster import ChildLost, ControlPlaneError, ProcessDaemon, RemoteDaemonError
from tickwork.cluster._liveness import stalled

from .conftest import (
    ENV,
    HERE,
    Records,
    child_pids,
    make,
    open_fds,
    open_sockets,
    own_tempdir,
    process_state,
)


def leaf(group: BaseException) -> BaseException:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


async def test_child_reports_logs_output_and_stops_cleanly(backend: str, records: Records) -> None:
    child = make("idle", "world", backend=backend)
    with anyio.fail_after(15):
        async with Supervisor() as sup:
            sup.add(child)
            await sup.wait_all_started()
            assert child.status in ("ready", "running")
            assert child.pid is not None
            assert child.pid != os.getpid()
            assert child.node is not None
            hello = await records.wait_for(lambda r: r.getMessage() == "hello world")
            custom = await records.wait_for(lambda r: r.name == "targets.custom")
            out = await records.wait_for(lambda r: getattr(r, "stream", None) == "stdout")
            await records.wait_for(lambda r: r.getMessage() == "stderr line two")
            await sup.stop()
    assert child.returncode == 0
    assert hello.name == "tickwork.idle"
    assert hello.levelno == logging.INFO
    assert getattr(hello, "daemon", None) == "idle"
    assert isinstance(getattr(hello, "sim_time", None), float)
    assert hello.process == child.pid
    assert custom.levelno == logging.WARNING
    assert custom.getMessage() == "custom logger 7"
    assert out.getMessage() == "stdout world"
    assert getattr(out, "daemon", None) == "idle"
    stderr = [r for r in records.records if getattr(r, "stream", None) == "stderr"]
    assert [r.getMessage() for r in stderr] == ["stderr line one", "stderr line two"]
    assert all(r.levelno == logging.WARNING for r in stderr)
    assert sup.snapshot()["idle"].state == "stopped"


async def test_exception_text_arrives_intact(backend: str) -> None:
    text = "boom: ünïcode\nsecond line"
    child = make("crash", text, 42, backend=backend)
    sup = Supervisor()
    with anyio.fail_after(15), pytest.raises(BaseExceptionGroup) as info:
        async with sup:
            sup.add(child)
    error = leaf(info.value)
    assert isinstance(error, DaemonError)
    assert error.daemon == "crash"
    remote = error.__cause__
    assert isinstance(remote, RemoteDaemonError)
    assert isinstance(remote, tickwork.TickworkError)
    assert remote.remote_type == "ValueError"
    assert remote.remote_args == (repr(text), "42")
    assert remote.remote_daemon == "crash"
    assert "raise ValueError(text, number)" in remote.remote_traceback
    assert "targets.py" in remote.remote_traceback
    assert remote.remote_traceback.rstrip().endswith(f"ValueError: {(text, 42)!r}")
    assert remote.remote_traceback in "\n".join(remote.__notes__) + "\n"
    assert child.returncode == 1
    assert sup.snapshot()["crash"].state == "failed"


@pytest.mark.parametrize(
    ("target", "remote_type", "text"),
    [
        ("targets:bad_start", "RuntimeError", "cannot open the device"),
        ("targets:not_a_daemon", "TypeError", "a factory must return Daemons"),
        ("broken_import:factory", "ImportError", "libcamera.so.3"),
        ("targets:no_such_factory", "ValueError", "has no attribute 'no_such_factory'"),
    ],
)
async def test_failures_while_starting_are_remote_errors(
    backend: str, target: str, remote_type: str, text: str
) -> None:
    sup = Supervisor()
    daemon = ProcessDaemon(
        target, name="starter", env=ENV, backend="trio" if backend == "trio" else "asyncio"
    )
    with anyio.fail_after(15), pytest.raises(BaseExceptionGroup) as info:
        async with sup:
            sup.add(daemon)
    remote = leaf(info.value).__cause__
    assert isinstance(remote, RemoteDaemonError)
    assert remote.remote_type == remote_type
    assert text in remote.remote_traceback
    assert sup.snapshot()["starter"].last_error_phase == "on_start"
    assert daemon.returncode == 1


async def test_hard_exit_restarts_one_for_one_until_max_retries(backend: str) -> None:
    policy = RestartPolicy(base=0.01, max_retries=1)
    sibling_ran = anyio.Event()

    async def sibling(ctx: tickwork.Context) -> None:
        sibling_ran.set()
        await ctx.stop_event.wait()

    sup = Supervisor(on_error="restart", restart=policy)
    with anyio.fail_after(15), pytest.raises(BaseExceptionGroup) as info:  # noqa: PT012
        async with sup:
            sup.spawn(sibling)
            sup.add(make("hard_exit", 3, backend=backend))
    error = leaf(info.value)
    assert isinstance(error, DaemonError)
    assert "exceeded max_retries=1" in str(error)
    lost = error.__cause__
    assert isinstance(lost, ChildLost)
    assert lost.returncode == 3
    assert "exited with status 3" in str(lost)
    assert sibling_ran.is_set()
    assert sup.snapshot()["hard_exit"].restart_count == 1


async def test_ignore_policy_keeps_siblings_running(backend: str, records: Records) -> None:
    done = anyio.Event()

    async def watcher(ctx: tickwork.Context) -> None:
        await done.wait()

    async with Supervisor(on_error="ignore") as sup:
        sup.spawn(watcher)
        sup.add(make("hard_exit", 2, backend=backend))
        await records.wait_for(lambda r: "ignored" in r.getMessage(), 15)
        assert sup.snapshot()["hard_exit"].state == "failed"
        assert sup.snapshot()["watcher"].state == "running"
        done.set()
    assert sup.snapshot()["watcher"].state == "stopped"


async def test_a_stopped_child_is_a_failure_within_child_timeout(backend: str) -> None:
    child = make(
        "idle", "s", backend=backend, child_timeout=0.5, stop_timeout=0.2, term_timeout=0.2
    )
    with anyio.fail_after(15), pytest.raises(BaseExceptionGroup) as info:  # noqa: PT012
        async with Supervisor() as sup:
            sup.add(child)
            await sup.wait_all_started()
            assert child.pid is not None
            os.kill(child.pid, signal.SIGSTOP)
    lost = leaf(info.value).__cause__
    assert isinstance(lost, ChildLost)
    assert lost.returncode is None
    assert "silent for" in str(lost)
    assert "child_timeout=0.5s" in str(lost)
    assert child.returncode == -signal.SIGKILL  # SIGTERM waits for SIGCONT; SIGKILL does not


@pytest.mark.parametrize(("mode", "expected"), [("garbage", "malformed"), ("twice", "unexpected")])
async def test_bad_control_messages_fail_the_child_not_the_parent(
    backend: str, records: Records, mode: str, expected: str
) -> None:
    rogue = ProcessDaemon(
        "unused:factory",
        name="rogue",
        command=[sys.executable, str(HERE / "rogue_child.py"), mode],
        stop_timeout=0.2,
        term_timeout=0.5,
    )
    with anyio.fail_after(15), pytest.raises(BaseExceptionGroup) as info:
        async with Supervisor() as sup:
            sup.add(rogue)
    error = leaf(info.value).__cause__
    assert isinstance(error, ControlPlaneError)
    assert f"{expected} control message from the child of ProcessDaemon 'rogue'" in str(error)
    logged = await records.wait_for(lambda r: expected in r.getMessage())
    assert logged.levelno == logging.ERROR
    assert rogue.returncode == -signal.SIGTERM


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"package\.module:factory"):
        ProcessDaemon("no_colon")
    with pytest.raises(TypeError, match="msgspec-encodable"):
        ProcessDaemon("a:b", object())
    with pytest.raises(TypeError, match="ReceiveStream"):
        ProcessDaemon("a:b", channels={"jobs": 3})  # type: ignore[dict-item]
    with pytest.raises(
        TypeError, match=r"env must map str to str, got 'PORT': 8080; .*str\(8080\)"
    ):
        ProcessDaemon("a:b", env={"PORT": 8080})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="env must map str to str"):
        ProcessDaemon("a:b", env={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="heartbeat_interval"):
        ProcessDaemon("a:b", heartbeat_interval=0)
    with pytest.raises(ValueError, match="identifiers"):
        ProcessDaemon("a:b", channels={"not valid": tickwork.open_channel().recv})


async def test_channels_lose_nothing_across_a_child_restart(backend: str, tmp_path: Path) -> None:
    jobs: tickwork.Channel[int] = tickwork.open_channel(4)
    results: tickwork.Channel[list[int]] = tickwork.open_channel(4)
    worker = make(
        "doubler",
        str(tmp_path / "crashed"),
        backend=backend,
        channels={"jobs": jobs.recv, "results": results.send},
    )
    got: dict[int, int] = {}
    with anyio.fail_after(20):
        async with Supervisor(on_error="restart", restart=RestartPolicy(base=0.01)) as sup:
            sup.add(worker)

            async def feed(ctx: tickwork.Context) -> None:
                for job in range(20):
                    await jobs.send.send(job)
                await jobs.send.aclose()

            sup.spawn(feed)
            while len(got) < 20:
                job, doubled = await results.recv.receive()
                assert got.setdefault(job, doubled) == doubled
    assert got == {job: 2 * job for job in range(20)}
    assert (tmp_path / "crashed").exists()
    assert sup.snapshot()["doubler"].restart_count == 1
    assert sup.snapshot()["doubler"].state == "stopped"  # it ended with the jobs


async def restart_rounds(backend: str, count: int, rounds: int, **options: Any) -> None:
    """``count`` children, each SIGKILLed and restarted ``rounds`` times, then stopped."""
    daemons = [make("idle", "x", backend=backend, name=f"w{i}", **options) for i in range(count)]
    async with Supervisor(on_error="restart", restart=RestartPolicy(base=0.01)) as sup:
        for daemon in daemons:
            sup.add(daemon)
        await sup.wait_all_started()
        assert {d.pid for d in daemons} <= child_pids()  # the count sees live children
        for _ in range(rounds):
            first = {daemon.name: daemon.pid for daemon in daemons}
            for pid in first.values():
                if pid is None:
                    continue  # failed by itself meanwhile, and restarting
                with contextlib.suppress(ProcessLookupError):  # the same, a moment later
                    os.kill(pid, signal.SIGKILL)
            for daemon in daemons:
                # Each health message is a real event; stale ones come from the dead child.
                while daemon.pid == first[daemon.name] or daemon.status != "running":
                    await daemon.next_health()
        await sup.stop()
    assert all(sup.snapshot()[d.name].restart_count >= rounds for d in daemons)
    assert all(d.returncode == 0 for d in daemons)


async def check_no_leaks(
    backend: str, count: int, rounds: int, timeout: float, **options: Any
) -> None:
    with own_tempdir() as base, anyio.fail_after(timeout):
        await restart_rounds(backend, 1, 0)  # warm up: the ZeroMQ context and its threads
        gc.collect()
        fds, sockets, pids = open_fds(), open_sockets(), child_pids()
        await restart_rounds(backend, count, rounds, **options)
        assert not list(base.iterdir())  # every child's private directory was removed
    gc.collect()
    assert sockets > 0  # the count is real: ZeroMQ's and the event loop's sockets are in it
    assert child_pids() == pids  # no child process of ours is left, not even a zombie
    assert open_sockets() <= sockets
    assert open_fds() <= fds  # pipes and sockets of dead children are all closed


async def test_restarted_children_leak_no_process_or_descriptor(backend: str) -> None:
    await check_no_leaks(backend, 2, 1, 30)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_twenty_children_restarted_repeatedly_leak_nothing(backend: str) -> None:
    # Twenty children starting at once on two cores: liveness bounds to match.
    await check_no_leaks(
        backend,
        20,
        3,
        300,
        heartbeat_interval=0.5,
        child_timeout=5.0,
        parent_timeout=5.0,
        start_timeout=60.0,
    )


@pytest.mark.parametrize(
    ("strategy", "victim", "restarted"),
    [
        ("one_for_all", "b", {"a", "b"}),
        ("rest_for_one", "b", {"b"}),  # like one_for_one: b has nobody after it
    ],
)
async def test_a_killed_child_restarts_the_strategys_set(
    backend: str, records: Records, strategy: Strategy, victim: str, restarted: set[str]
) -> None:
    """SIGKILL one of two children: the parent's strategy decides which come back."""
    children = {name: make("idle", name, backend=backend, name=name) for name in ("a", "b")}
    with anyio.fail_after(20):
        async with Supervisor(
            on_error="restart", restart=RestartPolicy(base=0.01), strategy=strategy
        ) as sup:
            for child in children.values():
                sup.add(child)
            await sup.wait_all_started()
            before = {name: child.pid for name, child in children.items()}
            victim_pid = before[victim]
            assert victim_pid is not None
            os.kill(victim_pid, signal.SIGKILL)
            for name in sorted(restarted):
                await records.wait_for(
                    lambda r, name=name: (
                        r.getMessage() == f"hello {name}" and r.process != before[name]
                    )
                )
            after = {name: child.pid for name, child in children.items()}
            warning = await records.wait_for(lambda r: "restart 1" in r.getMessage())
            assert f"'{victim}'" in warning.getMessage()
            assert "was killed by SIGKILL" in warning.getMessage()
            await sup.stop()
    assert {name for name in children if after[name] != before[name]} == restarted
    assert sup.snapshot()[victim].restart_count == 1
    assert all(child.returncode == 0 for child in children.values())  # stopped cleanly


async def test_a_child_on_start_may_wait_for_the_parents_channels(backend: str) -> None:
    """The channels are bridged during on_start: a child reading in on_start starts."""
    jobs: tickwork.Channel[int] = tickwork.open_channel(1)
    results: tickwork.Channel[int] = tickwork.open_channel(1)
    worker = make(
        "reads_in_on_start", backend=backend, channels={"jobs": jobs.recv, "results": results.send}
    )
    with anyio.fail_after(15):
        async with Supervisor() as sup:
            sup.add(worker)
            await jobs.send.send(7)
            await sup.wait_all_started()
            assert worker.status in ("ready", "running")
            assert await results.recv.receive() == 70
            await sup.stop()
    assert worker.returncode == 0


async def test_a_result_whose_send_returned_survives_a_sigkill(
    backend: str, tmp_path: Path
) -> None:
    """The child SIGKILLs itself the instant send() returns: the parent has the item."""
    results: tickwork.Channel[str] = tickwork.open_channel(1)
    producer = make(
        "send_then_die", str(tmp_path / "sent"), backend=backend, channels={"results": results.send}
    )
    with anyio.fail_after(15):
        async with Supervisor(on_error="restart", restart=RestartPolicy(base=0.01)) as sup:
            sup.add(producer)
            await sup.wait_all_started()
            assert producer.pid is not None
            try:
                pidfd = os.pidfd_open(producer.pid)
            except ProcessLookupError:  # already dead and reaped
                pidfd = None
            assert await results.recv.receive() == "kept"
            if pidfd is not None:
                try:
                    await anyio.wait_readable(pidfd)  # it is dead (by its own SIGKILL)
                finally:
                    os.close(pidfd)
            await sup.stop()
    assert results.recv.statistics().current_buffer_used == 0  # nothing came twice


async def read_beats(fd: int, count: int) -> None:
    """Wait for ``count`` more beats from the child (real time passing in it)."""
    seen = 0
    while seen < count:
        await anyio.wait_readable(fd)
        chunk = os.read(fd, count - seen)
        assert chunk, "the child closed its end: it stopped"
        seen += len(chunk)


PARENT_TIMEOUT = 2.0
"""The orphan bound in the SIGSTOP-parent test: over six times the stop below."""
STOPPED_BEATS = 6
"""Child beats (of targets.BEAT = 0.05 s) the parent stays stopped: about 0.3 s."""


async def test_a_child_outlives_a_brief_parent_stop_and_ends_once_orphaned(
    backend: str, tmp_path: Path
) -> None:
    """SIGSTOP the parent for well under parent_timeout: the child stays up. SIGKILL it:
    the orphaned child stops itself."""
    fifo = tmp_path / "beats"
    os.mkfifo(fifo)
    beats = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    script = HERE / "parent_script.py"
    command = [sys.executable, str(script), backend, str(PARENT_TIMEOUT), str(fifo)]
    try:
        with anyio.fail_after(15):
            async with await anyio.open_process(command) as parent:
                assert parent.stdout is not None
                line = b""
                async for chunk in parent.stdout:
                    line += chunk
                    if b"\n" in line:
                        break
                pid = int(line.split()[0])
                await read_beats(beats, 1)
                os.kill(parent.pid, signal.SIGSTOP)
                try:
                    await read_beats(beats, STOPPED_BEATS)  # the parent is silent meanwhile
                finally:
                    os.kill(parent.pid, signal.SIGCONT)
                await read_beats(beats, 2)
                assert process_state(pid) not in (None, "Z", "X")
                pidfd = os.pidfd_open(pid)
                try:
                    parent.kill()
                    await parent.wait()
                    await anyio.wait_readable(pidfd)  # orphaned now: it stops itself
                finally:
                    os.close(pidfd)
    finally:
        os.close(beats)
    assert process_state(pid) in (None, "Z", "X")


def test_a_heartbeat_after_skipped_ticks_is_not_a_judgement() -> None:
    """A side that was itself stopped skips one silence check (its reader catches up)."""
    assert not stalled(None, 0.0, 0.1)
    assert not stalled(1.0, 1.1, 0.1)  # the next tick: judge
    assert stalled(1.0, 1.2, 0.1)  # one tick skipped: we were not running
