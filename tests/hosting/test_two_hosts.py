"""docs/deploy.md's two-host topology: two real processes on loopback, CURVE keys from
files in one and from the environment in the other, every item exactly once."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tickwork.transports.zmq import curve_keypair

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "two_hosts.py"
WAIT = 20.0  # wall-clock bound on every wait for a child
COUNT = 200


def _env(**keys: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWORK_")}
    return env | {"PYTHONUNBUFFERED": "1"} | keys


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )


def _first_line_with(proc: subprocess.Popen[str], needle: str) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + WAIT
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                pytest.fail(f"no line with {needle!r} within {WAIT}s; got {seen}")
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"exited before printing {needle!r}; got {seen}")
            if needle in line:
                return line.strip()
            seen.append(line)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, list[str]]:
    try:
        out, _ = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"child did not exit within {WAIT}s; got {out}")
    return proc.returncode, out.splitlines()


def test_producer_and_consumer_processes_over_curve_deliver_exactly_once(
    tmp_path: Path,
) -> None:
    server_public, server_secret = curve_keypair()
    client_public, client_secret = curve_keypair()
    files = {
        "TICKWORK_SERVER_PUBLIC": server_public,
        "TICKWORK_SERVER_SECRET": server_secret,
        "TICKWORK_CLIENT_PUBLIC": client_public,
    }
    consumer_env: dict[str, str] = {}
    for variable, key in files.items():
        path = tmp_path / variable.lower()
        path.write_bytes(key + b"\n")  # as `echo` or a secret store leaves it
        path.chmod(0o600)
        consumer_env[f"{variable}_FILE"] = str(path)
    producer_env = {
        "TICKWORK_SERVER_PUBLIC": server_public.decode(),
        "TICKWORK_CLIENT_PUBLIC": client_public.decode(),
        "TICKWORK_CLIENT_SECRET": client_secret.decode(),
    }
    consumer = _spawn(_env(**consumer_env), "consumer", "tcp://127.0.0.1:0")
    producer: subprocess.Popen[str] | None = None
    try:
        address = _first_line_with(consumer, "listening on ").removeprefix("listening on ")
        assert address.startswith("tcp://127.0.0.1:")
        producer = _spawn(_env(**producer_env), "producer", address, "--count", str(COUNT))
        produced = _finish(producer)
        consumed = _finish(consumer)
    finally:
        for proc in (consumer, producer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert produced == (0, [f"sent {COUNT}"])
    code, lines = consumed
    assert code == 0, lines
    got = [int(line.removeprefix("got ")) for line in lines if line.startswith("got ")]
    assert got == list(range(COUNT))  # each item once, in order
    assert lines[-1] == "producer closed the channel"


def _example_main() -> Callable[[list[str]], int]:
    namespace: dict[str, object] = {"__name__": "examples_two_hosts"}
    exec(compile(EXAMPLE.read_text(), str(EXAMPLE), "exec"), namespace)
    return namespace["main"]  # type: ignore[return-value]


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("TICKWORK_")]:
        monkeypatch.delenv(variable)


@pytest.mark.usefixtures("no_keys")
def test_a_missing_key_is_a_usage_error_naming_both_forms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        _example_main()(["consumer", "tcp://127.0.0.1:0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "set TICKWORK_SERVER_PUBLIC to a z85 key, or TICKWORK_SERVER_PUBLIC_FILE" in err


@pytest.mark.usefixtures("no_keys")
def test_a_bad_key_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    public, _ = curve_keypair()
    monkeypatch.setenv("TICKWORK_SERVER_PUBLIC", public.decode())
    monkeypatch.setenv("TICKWORK_CLIENT_PUBLIC", public.decode())
    monkeypatch.setenv("TICKWORK_CLIENT_SECRET", "too-short")
    with pytest.raises(SystemExit) as info:
        _example_main()(["producer", "tcp://127.0.0.1:1"])
    assert info.value.code == 2
    assert "z85-encoded CURVE key of 40 bytes" in capsys.readouterr().err
    monkeypatch.delenv("TICKWORK_CLIENT_SECRET")
    monkeypatch.setenv("TICKWORK_CLIENT_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(SystemExit):
        _example_main()(["producer", "tcp://127.0.0.1:1"])
    assert "TICKWORK_CLIENT_SECRET_FILE=" in capsys.readouterr().err
