"""examples/network_watch.py --sim: ten minutes with two collector outages, replayed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "network_watch.py"


def _replay(backend: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--sim", "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if not line.startswith("replayed ")]


def _example_cli() -> Callable[[list[str]], int]:
    """The example's ``cli``, imported in this process (no interpreter start per run)."""
    spec = importlib.util.spec_from_file_location("network_watch_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module.cli


def test_network_watch_replays_identically_on_both_backends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No busy() or other care in the example: the attached, autojumping clock holds
    time through every socket wait and address lookup."""
    cli = _example_cli()
    outputs: set[str] = set()
    for backend in ("asyncio", "trio"):
        for _ in range(3):
            assert cli(["--sim", "--backend", backend]) == 0
            lines = capsys.readouterr().out.splitlines()
            outputs.add("\n".join(line for line in lines if not line.startswith("replayed ")))
    assert len(outputs) == 1
    assert "OK: every reading reached the collector exactly once, in order" in outputs.pop()


def test_network_watch_example_replays_under_simclock() -> None:
    lines = _replay("asyncio")
    assert "readings: sent 300, stored 300, duplicates dropped by seq 0" in lines
    assert "collector: started 3 times, killed during [(120.0, 210.0), (400.0, 430.0)]" in lines
    assert lines[-1] == "OK: every reading reached the collector exactly once, in order"
    states = next(line for line in lines if line.startswith("outbox states: "))
    # Both outages seen, each followed by a catch-up and a reconnect.
    assert states.count("CATCHING_UP") == 2
    assert "120.0 DISCONNECTED" in states
    assert "400.0 DISCONNECTED" in states
    watch = next(line for line in lines if line.startswith("watch: "))
    assert watch.endswith("600.0 DISCONNECTING, 600.0 STOPPED (connects 3, disconnects 3)")
