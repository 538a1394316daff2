"""The README's quick example and the demo run, on both backends, without real waits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tickwork import SimClock

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> dict[str, object]:
    source = (ROOT / "examples" / f"{name}.py").read_text()
    namespace: dict[str, object] = {"__name__": f"examples_{name}"}
    exec(compile(source, str(ROOT / "examples" / f"{name}.py"), "exec"), namespace)
    return namespace


async def test_quickstart_replays_three_ticks(capsys: object) -> None:
    main = _load("quickstart")["main"]
    await main(True)  # type: ignore[operator]
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines() == ["[ 1.0s] tick 1", "[ 2.0s] tick 2", "[ 3.0s] tick 3"]


async def test_demo_station_replays_identically() -> None:
    station = _load("demo")["station"]
    first = await station(SimClock(), 600.0, verbose=False)  # type: ignore[operator]
    second = await station(SimClock(), 600.0, verbose=False)  # type: ignore[operator]
    assert len(first) > 100
    assert first == second


def test_quickstart_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), "--sim"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[ 3.0s] tick 3"


async def test_health_demo_serves_and_probes_itself(capsys: object) -> None:
    """The endpoint demo on a self-driving SimClock: real sockets, no real waits."""
    main = _load("health_demo")["main"]
    await main("127.0.0.1:0", 3.0, SimClock(autojump=True))  # type: ignore[operator]
    out = capsys.readouterr().out.splitlines()  # type: ignore[attr-defined]
    assert out[0].startswith("health endpoint on http://127.0.0.1:")
    assert out[2] == "GET /readyz -> 200"
    assert '"status": "ready: 2 daemons, 2 running, 0 restarting, 0 failed"' in out[3]
    assert '    tickwork_daemons{state="running"} 2.0' in out
