"""The ``tickwork`` console script and ``python -m tickwork``, as real child processes.

Both spellings run in a fresh temporary directory without PYTHONPATH, so a target
module there is importable only if the CLI puts the current directory on sys.path.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

WAIT = 30.0  # wall-clock bound on each child process
SCRIPT = str(Path(sys.executable).with_name("tickwork"))
SPELLINGS = {
    "console-script": ([SCRIPT], "tickwork"),
    "python-m": ([sys.executable, "-m", "tickwork"], "python -m tickwork"),
}

TARGETS = """
from tickwork import Context, daemon

@daemon
async def hello(ctx: Context) -> None:
    print("hello ran", flush=True)

@daemon
async def always_fails(ctx: Context) -> None:
    print("attempt", flush=True)
    raise RuntimeError("boom")

def one():
    return hello()

def failing():
    return always_fails()
"""


@pytest.fixture(params=sorted(SPELLINGS))
def spelling(request: pytest.FixtureRequest) -> tuple[list[str], str]:
    return SPELLINGS[request.param]


def tickwork_cli(command: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    (cwd / "clitargets.py").write_text(TARGETS)
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_target_in_the_current_directory_runs(
    spelling: tuple[list[str], str], tmp_path: Path
) -> None:
    command, _ = spelling
    done = tickwork_cli(command, "run", "clitargets:one", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "hello ran" in done.stdout


def test_usage_names_the_program_used_and_help_has_no_rst(
    spelling: tuple[list[str], str], tmp_path: Path
) -> None:
    command, prog = spelling
    for args in (["--help"], ["run", "--help"]):
        done = tickwork_cli(command, *args, cwd=tmp_path)
        assert done.returncode == 0
        assert done.stdout.startswith(f"usage: {prog} ")
        assert "``" not in done.stdout
        assert ":func:" not in done.stdout
    run_help = tickwork_cli(command, "run", "--help", cwd=tmp_path).stdout
    for flag in ("--max-restarts", "--period", "--backoff-base", "--backoff-cap"):
        assert flag in run_help


def test_version_is_the_package_metadata(spelling: tuple[list[str], str], tmp_path: Path) -> None:
    command, prog = spelling
    done = tickwork_cli(command, "--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"{prog} {importlib.metadata.version('tickwork')}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log-level", "verbose"], "argument --log-level: expected one of DEBUG"),
        (["--grace", "-1"], "argument --grace: expected a finite number of seconds >= 0"),
        (["--grace", "soon"], "argument --grace: expected a number of seconds"),
        (["--on-error", "restart", "--max-restarts", "0"], "argument --max-restarts"),
        (["--on-error", "restart", "--max-restarts", "1.5"], "argument --max-restarts"),
        (["--on-error", "restart", "--period", "0"], "argument --period: expected a number"),
        (["--on-error", "restart", "--backoff-base", "nan"], "argument --backoff-base"),
        (["--on-error", "restart", "--backoff-base", "3", "--backoff-cap", "1"], "--backoff-cap"),
        (["--max-restarts", "3"], "the restart options need --on-error restart"),
        (["--backend", "curio"], "argument --backend: invalid choice"),
    ],
)
def test_bad_values_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    """Through the console script (the spellings share the parser; see the usage test)."""
    command, prog = SPELLINGS["console-script"]
    done = tickwork_cli(command, "run", "clitargets:one", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "hello ran" not in done.stdout
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert errors == [errors[0]]
    assert errors[0].startswith(f"{prog} run: error: ")
    assert message in errors[0]


def test_bad_target_is_a_usage_error(spelling: tuple[list[str], str], tmp_path: Path) -> None:
    command, prog = spelling
    done = tickwork_cli(command, "run", "no_such_module:factory", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{prog} run: error: No module named 'no_such_module'" in done.stderr


def test_restart_options_build_the_policy(spelling: tuple[list[str], str], tmp_path: Path) -> None:
    """Three restarts allowed within an hour, no backoff: four attempts, then exit 1."""
    command, _ = spelling
    done = tickwork_cli(
        command,
        "run",
        "clitargets:failing",
        "--on-error",
        "restart",
        "--max-restarts",
        "3",
        "--period",
        "3600",
        "--backoff-base",
        "0",
        "--backoff-cap",
        "0",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("attempt") == 4
    assert "exceeded max_restarts=3" in done.stderr
