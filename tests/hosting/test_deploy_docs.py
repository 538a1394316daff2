"""docs/deploy.md's systemd unit and Kubernetes Deployment match the code's defaults.

Both are parsed from the page itself (the unit with a small parser that keeps repeated
keys, the manifest with PyYAML), their command lines with tickwork's own argument
parser, and the probe paths are asked of a real endpoint.
"""

from __future__ import annotations

import inspect
import re
import shlex
import signal
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest
import yaml

import tickwork
from tickwork import Context, SimClock, Supervisor
from tickwork.__main__ import build_parser
from tickwork.hosting import (
    DEFAULT_HEALTH_HOST,
    STATUS_INTERVAL,
    SystemdNotifier,
    serve_hosting,
)
from tickwork.hosting._address import parse_address

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "examples" / "two_hosts.py").read_text(encoding="utf-8")
USEC = 1_000_000


def _block(language: str) -> str:
    found = re.findall(rf"^```{language}\n(.*?)^```$", PAGE, re.MULTILINE | re.DOTALL)
    assert len(found) == 1, f"docs/deploy.md should hold one ```{language} block"
    return found[0]


def _unit() -> dict[str, list[tuple[str, str]]]:
    """Sections of the unit, each a list of (key, value); systemd allows repeated keys."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in _block("ini").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a unit-file line: {raw!r}"
        assert current is not None, f"a key before any [section]: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


UNIT = _unit()
MANIFEST = cast("dict[str, Any]", yaml.safe_load(_block("yaml")))
POD = MANIFEST["spec"]["template"]["spec"]
CONTAINER = POD["containers"][0]


def _one(section: str, key: str) -> str:
    values = [v for k, v in UNIT[section] if k == key]
    assert len(values) == 1, f"[{section}] {key}= should be set once, found {values}"
    return values[0]


def _seconds(section: str, key: str) -> float:
    text = _one(section, key)
    assert re.fullmatch(r"\d+(\.\d+)?", text), f"{key}={text}: write plain seconds"
    return float(text)


def _stop_budget(grace: float) -> float:
    """What a stop may take before cancellation is done: grace, then finalize_timeout."""
    finalize = inspect.signature(Supervisor.stop).parameters["finalize_timeout"].default
    return grace + finalize


def _cli(argv: list[str]) -> Any:
    assert Path(argv[0]).name == "tickwork", argv
    return build_parser("tickwork").parse_args(argv[1:])


UNIT_ARGS = _cli(shlex.split(_one("Service", "ExecStart")))
POD_ARGS = _cli(CONTAINER["command"])
POD_ARGS_PORT = parse_address(POD_ARGS.health)[1]


def test_the_grace_in_both_is_the_codes_default() -> None:
    default = inspect.signature(tickwork.run).parameters["grace"].default
    assert default == inspect.signature(Supervisor.stop).parameters["grace"].default
    assert build_parser("tickwork").parse_args(["run", "m:f"]).grace == default
    assert UNIT_ARGS.grace == POD_ARGS.grace == default


def test_systemd_unit_speaks_notify_and_leaves_restarts_to_the_right_level() -> None:
    assert _one("Service", "Type") == "notify"
    assert _one("Service", "NotifyAccess") == "main"
    assert _one("Service", "Restart") == "on-failure"
    assert _one("Service", "KillMode") == "mixed"
    burst = int(_one("Unit", "StartLimitBurst"))
    window = _seconds("Unit", "StartLimitIntervalSec")
    # Restarts spaced RestartSec apart must fit `burst` times in the window, or the
    # start limit could never trip and a crash loop would go on for ever.
    assert _seconds("Service", "RestartSec") * burst < window


def test_systemd_stop_timeout_covers_grace_and_exit_codes_are_clean() -> None:
    assert _seconds("Service", "TimeoutStopSec") >= _stop_budget(UNIT_ARGS.grace)
    clean = set(_one("Service", "SuccessExitStatus").split())
    assert {str(128 + signal.SIGTERM), str(128 + signal.SIGINT)} <= clean


def test_systemd_watchdog_is_pinged_at_half_its_period() -> None:
    watchdog = _seconds("Service", "WatchdogSec")
    environ = {"NOTIFY_SOCKET": "/run/notify-test", "WATCHDOG_USEC": str(int(watchdog * USEC))}
    notifier = SystemdNotifier.from_environ(environ)
    assert notifier is not None
    try:
        assert notifier.watchdog_interval == watchdog / 2
    finally:
        notifier.close()
    # A ping period shorter than the health evaluation's would only repeat its verdict.
    assert watchdog / 2 >= STATUS_INTERVAL


def test_systemd_health_endpoint_stays_on_loopback() -> None:
    host, port = parse_address(UNIT_ARGS.health)
    assert host == DEFAULT_HEALTH_HOST
    assert port == POD_ARGS_PORT  # one port for the endpoint wherever it runs


def test_deployment_grace_period_covers_the_stop() -> None:
    assert POD["terminationGracePeriodSeconds"] >= _stop_budget(POD_ARGS.grace)


def test_deployment_probes_hit_the_endpoints_port_and_paths() -> None:
    host, port = parse_address(POD_ARGS.health)
    assert host == "0.0.0.0"  # the kubelet probes the pod's IP
    ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    live, ready = CONTAINER["livenessProbe"], CONTAINER["readinessProbe"]
    assert ports[live["httpGet"]["port"]] == ports[ready["httpGet"]["port"]] == port
    assert live["httpGet"]["path"] == "/livez"
    assert ready["httpGet"]["path"] == "/readyz"
    assert ready["periodSeconds"] >= STATUS_INTERVAL


def test_key_variables_named_in_the_deployments_are_the_examples() -> None:
    named = {e["name"] for e in CONTAINER["env"]}
    named |= {v.split("=", 1)[0] for k, v in UNIT["Service"] if k == "Environment"}
    for variable in named:
        assert variable.endswith("_FILE")
        assert f'load_key("{variable.removesuffix("_FILE")}")' in EXAMPLE


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
async def test_probe_paths_answer_200_on_a_real_endpoint(probe: str) -> None:
    clock = SimClock()

    async def idle(ctx: Context) -> None:
        await ctx.stop_event.wait()

    async with anyio.create_task_group() as tg:
        async with Supervisor(clock=clock) as sup:
            sup.spawn(idle, name="idle")
            address = await tg.start(
                lambda task_status: serve_hosting(
                    sup, notify=False, health="127.0.0.1:0", task_status=task_status
                )
            )
            await sup.wait_all_started()
            await clock.advance(STATUS_INTERVAL)
            async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                reply = await client.get(CONTAINER[probe]["httpGet"]["path"])
            assert reply.status_code == 200
            await sup.stop()
        tg.cancel_scope.cancel()
