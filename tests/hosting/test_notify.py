"""systemd notify against a real datagram socket the test binds; the watchdog under SimClock."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tickwork import Context, RestartPolicy, SimClock, Supervisor
from tickwork.hosting import SystemdNotifier, serve_hosting


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    directory = Path(tempfile.mkdtemp(prefix="tw-"))
    path = str(directory / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    yield sock, path
    sock.close()
    os.unlink(path)
    directory.rmdir()


def drain(sock: socket.socket) -> list[str]:
    got: list[str] = []
    while True:
        try:
            got.append(sock.recv(4096).decode())
        except BlockingIOError:
            return got


def test_nothing_without_notify_socket() -> None:
    assert SystemdNotifier.from_environ({}) is None


def test_abstract_namespace() -> None:
    name = f"tickwork-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.setblocking(False)
    try:
        notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier is not None
        assert notifier.send("READY=1")
        assert drain(sock) == ["READY=1"]
        notifier.close()
    finally:
        sock.close()


def test_watchdog_pid_of_another_process_disables_it(
    notify_socket: tuple[socket.socket, str],
) -> None:
    _, path = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}
    notifier = SystemdNotifier.from_environ(env)
    assert notifier is not None
    assert notifier.watchdog_interval is None
    notifier.close()
    env["WATCHDOG_PID"] = str(os.getpid())
    notifier = SystemdNotifier.from_environ(env)
    assert notifier is not None
    assert notifier.watchdog_interval == 1.0
    notifier.close()


async def test_ready_status_watchdog_stops_when_daemon_is_stuck(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    clock = SimClock()

    async def flaky(ctx: Context) -> None:
        if ctx.clock.now() >= 5.0:
            raise RuntimeError("broken")
        await ctx.clock.sleep(5.0)
        raise RuntimeError("broken")

    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}
    trace: list[tuple[float, str]] = []
    policy = RestartPolicy(base=1.0, factor=1.0, cap=1.0)
    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock, on_error="restart", restart=policy) as sup:
            sup.spawn(flaky, name="flaky")
            await tg.start(
                lambda task_status: serve_hosting(
                    sup, environ=env, stuck_after=3.0, task_status=task_status
                )
            )
            for _ in range(12):
                await clock.advance(1.0)
                trace.extend((clock.now(), m) for m in drain(sock))
            await sup.stop()
        tg.cancel_scope.cancel()
    trace.extend((clock.now(), m) for m in drain(sock))
    pings = [t for t, m in trace if m == "WATCHDOG=1"]
    assert trace[0][1].startswith("READY=1\nSTATUS=ready: 1 daemons")
    assert pings == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert any("STOPPING=1" in m for _, m in trace)
