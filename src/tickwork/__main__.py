"""``python -m tickwork run package.module:factory``: run daemons from a shell."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ._run import load_daemons, run

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the daemons, return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tickwork", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run daemons made by package.module:factory")
    run_cmd.add_argument("target", help="package.module:factory returning a Daemon or a list")
    run_cmd.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    run_cmd.add_argument(
        "--on-error", choices=("shutdown", "restart", "ignore"), default="shutdown"
    )
    run_cmd.add_argument("--grace", type=float, default=5.0, help="seconds to wait on stop")
    run_cmd.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        daemons = load_daemons(args.target)
    except (ImportError, ValueError, TypeError) as exc:
        parser.error(str(exc))
    return run(*daemons, backend=args.backend, on_error=args.on_error, grace=args.grace)


if __name__ == "__main__":
    sys.exit(main())
