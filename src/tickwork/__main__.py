"""The ``tickwork`` command (also ``python -m tickwork``): run daemons from a shell.

``tickwork run package.module:factory`` imports the module (from the current directory
too), calls the factory, which returns a Daemon or a list of them, and runs them under
one Supervisor until they end or a signal stops them. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._run import load_daemons, run
from ._supervisor import RestartPolicy
from .hosting._address import parse_address

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DESCRIPTION = (
    "Run tickwork daemons from a shell. 'tickwork run package.module:factory' imports "
    "the module (the current directory is searched first), calls factory() and runs "
    "the Daemon or list of Daemons it returns under one Supervisor."
)


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _log_level(text: str) -> str:
    """argparse type: a logging level name, any case."""
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(LOG_LEVELS)} (any case), got {text!r}"
        )
    return level


def _program_name() -> str:
    """What the user typed: ``python -m tickwork`` or the console script's name."""
    invoked = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "tickwork"
    return "python -m tickwork" if invoked == "__main__.py" else invoked


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; each group of options is added by one function below."""
    parser = argparse.ArgumentParser(prog=prog or _program_name(), description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmd = commands.add_parser(
        "run",
        help="run the daemons made by package.module:factory",
        description=DESCRIPTION,
    )
    run_cmd.set_defaults(command_parser=run_cmd)
    add_run_arguments(run_cmd)
    add_restart_arguments(run_cmd)
    add_hosting_arguments(run_cmd)
    return parser


def add_run_arguments(cmd: argparse.ArgumentParser) -> None:
    """The target, backend, error policy, grace and logging options of ``run``."""
    cmd.add_argument("target", help="package.module:factory returning a Daemon or a list")
    cmd.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    cmd.add_argument(
        "--on-error",
        choices=("shutdown", "restart", "ignore"),
        default="shutdown",
        help="what a failing daemon does to the others (default: shutdown)",
    )
    cmd.add_argument(
        "--grace",
        type=_seconds,
        default=5.0,
        help="seconds daemons get to return after a stop signal (default: 5)",
    )
    cmd.add_argument(
        "--log-level",
        type=_log_level,
        default="INFO",
        metavar="LEVEL",
        help=f"one of {', '.join(LOG_LEVELS)} (default: INFO)",
    )


def _health_address(text: str) -> str:
    """argparse type: a ``host:port`` (or bare port) for the health endpoint."""
    try:
        parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_hosting_arguments(cmd: argparse.ArgumentParser) -> None:
    """The production hooks of ``run``: the health endpoint (systemd notify is automatic)."""
    cmd.add_argument(
        "--health",
        type=_health_address,
        metavar="HOST:PORT",
        help="serve /livez, /readyz and /metrics there (extra http; a bare port binds "
        "127.0.0.1); under systemd, READY/STATUS/STOPPING/WATCHDOG are sent in any case",
    )


def add_restart_arguments(cmd: argparse.ArgumentParser) -> None:
    """The restart policy of ``--on-error restart`` (tickwork.RestartPolicy fields)."""
    group = cmd.add_argument_group("restart policy (with --on-error restart)")
    group.add_argument(
        "--max-restarts",
        type=_positive_int,
        metavar="N",
        help="give up on a daemon restarted more than N times within --period",
    )
    group.add_argument(
        "--period",
        type=_positive_seconds,
        metavar="SECONDS",
        help="the window --max-restarts counts in (default: 5)",
    )
    group.add_argument(
        "--backoff-base",
        type=_seconds,
        metavar="SECONDS",
        help="wait before the first restart; doubles each time (default: 0.1)",
    )
    group.add_argument(
        "--backoff-cap",
        type=_seconds,
        metavar="SECONDS",
        help="longest wait between restarts (default: 5)",
    )


def restart_policy(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> RestartPolicy | None:
    """The RestartPolicy the restart options describe, or None when none was given."""
    given = {
        field: value
        for field, value in (
            ("max_restarts", args.max_restarts),
            ("period", args.period),
            ("base", args.backoff_base),
            ("cap", args.backoff_cap),
        )
        if value is not None
    }
    if not given:
        return None
    if args.on_error != "restart":
        parser.error("the restart options need --on-error restart")
    if "base" in given and "cap" not in given:
        given["cap"] = max(given["base"], RestartPolicy.cap)
    try:
        return RestartPolicy(**given)
    except (TypeError, ValueError) as exc:
        parser.error(
            str(exc)
            .replace("RestartPolicy.base", "--backoff-base")
            .replace("RestartPolicy.cap", "--backoff-cap")
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the daemons, return the exit code."""
    args = build_parser().parse_args(argv)
    # Usage errors name the subcommand: "tickwork run: error: ...".
    parser: argparse.ArgumentParser = args.command_parser
    policy = restart_policy(parser, args)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    # The console script starts without the current directory on sys.path, unlike
    # ``python -m``; a target next to the user must import either way.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        daemons = load_daemons(args.target)
    except (ImportError, ValueError, TypeError) as exc:
        parser.error(str(exc))
    return run(
        *daemons,
        backend=args.backend,
        on_error=args.on_error,
        restart=policy,
        grace=args.grace,
        health=args.health,
    )


if __name__ == "__main__":
    sys.exit(main())
