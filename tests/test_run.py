"""tickwork.run() exit codes, and ``python -m tickwork run`` in a real child process."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

import tickwork
from tickwork import Context, Daemon, RestartPolicy, SimClock, daemon
from tickwork.__main__ import main

BACKENDS = ["asyncio", "trio"]
SUPPORT = Path(__file__).parent / "_support"
TARGET = "tickwork_run_target"
WAIT = 20.0  # wall-clock bound on every wait for the child


# -- in process ------------------------------------------------------------------------


@daemon
async def quick(ctx: Context, out: list[str]) -> None:
    out.append(ctx.name)


@daemon
async def broken(ctx: Context) -> None:
    raise RuntimeError("broken")


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_returns_0_when_all_daemons_return(backend: str) -> None:
    out: list[str] = []
    code = tickwork.run(quick(out), backend=backend)  # type: ignore[arg-type]
    assert code == 0
    assert out == ["quick"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_returns_1_on_failure_and_logs_it(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    code = tickwork.run(broken(), backend=backend)  # type: ignore[arg-type]
    assert code == 1
    assert any("daemon 'broken' failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_ignore_policy_returns_0(backend: str) -> None:
    code = tickwork.run(broken(), on_error="ignore", backend=backend)  # type: ignore[arg-type]
    assert code == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_restart_policy_on_a_sim_clock(backend: str) -> None:
    """Restarts sleep on the given clock; a driver daemon moves it, no real time passes."""
    clock = SimClock()
    starts: list[float] = []

    class Flaky(Daemon):
        async def on_start(self, ctx: Context) -> None:
            starts.append(ctx.clock.now())

        async def run(self, ctx: Context) -> None:
            raise ValueError("again")

    @daemon
    async def driver(ctx: Context) -> None:
        await clock.advance(100.0)

    code = tickwork.run(
        Flaky(),
        driver(),
        clock=clock,
        on_error="restart",
        restart=RestartPolicy(base=1.0, factor=2.0, max_retries=2),
        backend=backend,  # type: ignore[arg-type]
    )
    assert code == 1
    assert starts == [0.0, 1.0, 3.0]


def test_run_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="backend"):
        tickwork.run(quick([]), backend="curio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        tickwork.run()
    with pytest.raises(TypeError, match="call it"):
        tickwork.run(quick)  # type: ignore[arg-type]


# -- in a child process ------------------------------------------------------------------


class Child:
    """A ``python -m tickwork run`` child whose merged output is read line by line."""

    def __init__(self, *args: str, env_extra: dict[str, str] | None = None) -> None:
        env = dict(os.environ) | (env_extra or {})
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(SUPPORT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tickwork", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        self._selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def wait_for(self, needle: str) -> None:
        """Read output until a line contains ``needle``; fail after WAIT seconds."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + WAIT
        while not any(needle in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                pytest.fail(f"child did not print {needle!r} in {WAIT}s; got {self.lines}")
            line = self.proc.stdout.readline()
            if not line:
                pytest.fail(f"child exited before printing {needle!r}; got {self.lines}")
            self.lines.append(line.rstrip("\n"))

    def finish(self) -> int:
        """Wait for the exit (bounded) and collect the rest of the output."""
        try:
            out, _ = self.proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            pytest.fail(f"child did not exit within {WAIT}s; got {self.lines}")
        self.lines.extend(out.splitlines())
        return self.proc.returncode

    def close(self) -> None:
        self._selector.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@contextmanager
def child(*args: str, env_extra: dict[str, str] | None = None) -> Iterator[Child]:
    c = Child(*args, env_extra=env_extra)
    try:
        yield c
    finally:
        c.close()


def test_signals_stop_gracefully_with_shell_exit_codes() -> None:
    """SIGINT -> 130, SIGTERM -> 143, on both backends; on_stop ran each time.

    The four children run side by side, so the test costs one interpreter start-up.
    """
    cases = [
        (backend, sig, code)
        for backend in BACKENDS
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143))
    ]
    with ExitStack() as stack:
        children = [
            stack.enter_context(child(f"{TARGET}:polite", "--backend", backend, "--grace", "60"))
            for backend, _, _ in cases
        ]
        for c, (_, sig, _) in zip(children, cases, strict=True):
            c.wait_for("polite started")
            c.proc.send_signal(sig)
        for c, (backend, sig, code) in zip(children, cases, strict=True):
            assert (backend, sig, c.finish()) == (backend, sig, code), c.lines
            assert "polite run returned" in c.lines
            assert c.lines.count("polite on_stop ran") == 1


def test_second_signal_cancels_at_once() -> None:
    with child(f"{TARGET}:stubborn", "--grace", "600") as c:
        c.wait_for("stubborn started")
        c.proc.send_signal(signal.SIGINT)
        c.wait_for("stopping (grace")
        c.proc.send_signal(signal.SIGTERM)
        assert c.finish() == 130  # the first signal decides the code
        assert c.lines.count("stubborn on_stop ran") == 1


# -- the command line, in process (no signals needed) -------------------------------------


@pytest.fixture
def target_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT))


@pytest.mark.usefixtures("target_importable")
def test_main_failing_daemon_gives_exit_1(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["run", f"{TARGET}:failing", "--backend", "trio"]) == 1
    assert any("daemon 'failing' failed" in r.getMessage() for r in caplog.records)
    # the sibling was cancelled and still cleaned up
    assert capsys.readouterr().out.count("polite on_stop ran") == 1


@pytest.mark.usefixtures("target_importable")
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon_here", "package.module:factory"),
        (f"{TARGET}:missing", "has no attribute"),
        (f"{TARGET}:not_daemons", "must return Daemons"),
        ("no_such_module_xyz:factory", "no_such_module_xyz"),
    ],
)
def test_main_bad_target_is_a_usage_error(
    target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", target])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_speaks_systemd_notify_and_serves_health(tmp_path: Path) -> None:
    """A real datagram socket as systemd's, a real HTTP client on the endpoint."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(WAIT)
        with child(
            "tickwork_run_target:polite",
            "--health",
            "127.0.0.1:0",
            env_extra={"NOTIFY_SOCKET": path},
        ) as c:
            c.wait_for("health endpoint on http://")
            found = re.search(r"http://(\S+) ", c.lines[-1])
            assert found is not None, c.lines
            ready = notify.recv(4096).decode().splitlines()
            assert ready[0] == "READY=1"
            assert ready[1].startswith("STATUS=")
            reply = httpx.get(f"http://{found.group(1)}/readyz", timeout=WAIT)
            assert reply.status_code == 200
            assert [d["name"] for d in reply.json()["daemons"]] == ["polite"]
            c.proc.send_signal(signal.SIGTERM)
            messages: list[str] = []
            while "STOPPING=1" not in messages:
                messages.extend(notify.recv(4096).decode().splitlines())
            assert c.finish() == 128 + signal.SIGTERM
            assert c.lines.count("polite on_stop ran") == 1  # a clean stop, not a kill
            with pytest.raises(httpx.ConnectError):  # the endpoint went with the process
                httpx.get(f"http://{found.group(1)}/livez", timeout=WAIT)


def test_cli_rejects_a_bad_health_address() -> None:
    with child("tickwork_run_target:polite", "--health", "localhost:http") as c:
        assert c.finish() == 2
    assert "needs a port 0-65535" in c.lines[-1]
