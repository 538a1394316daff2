"""``tickwork.run``: the one-liner for a program whose root is a Supervisor."""

from __future__ import annotations

import importlib
import signal
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final, Literal

import anyio
import anyio.abc

from ._clock import Clock
from ._daemon import Daemon
from ._exceptions import DaemonError, OnError
from ._logging import library_logger
from ._restart import RestartPolicy
from ._supervisor import Supervisor
from ._validate import is_instance

__all__ = ["EXIT_FAILURE", "EXIT_OK", "load_daemons", "run"]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
# Shell convention: 128 + signal number.
_SIGNAL_EXIT: Final = {signal.SIGINT: 128 + signal.SIGINT, signal.SIGTERM: 128 + signal.SIGTERM}

_log = library_logger("tickwork")


def run(
    *daemons: Daemon,
    clock: Clock | None = None,
    on_error: OnError = "shutdown",
    restart: RestartPolicy | None = None,
    backend: Literal["asyncio", "trio"] = "asyncio",
    grace: float = 5.0,
    health: str | None = None,
) -> int:
    """Run ``daemons`` under one Supervisor until they end; return a process exit code.

    0 when every daemon returned, 1 when one failed under "shutdown", 130 / 143 after
    SIGINT / SIGTERM (which stop the supervisor with ``grace``; a second signal cancels
    at once). Use as ``raise SystemExit(tickwork.run(MyDaemon()))``.

    Under systemd (``NOTIFY_SOCKET`` set) it speaks the notify protocol: ``READY=1``
    once every ``on_start`` returned, ``STATUS=``, ``STOPPING=1`` and the watchdog.
    ``health="127.0.0.1:8081"`` also serves ``/livez``, ``/readyz`` and ``/metrics``
    (extra ``http``). See :func:`tickwork.hosting.serve_hosting`.
    """
    if backend not in ("asyncio", "trio"):
        raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")
    if not daemons:
        raise ValueError("tickwork.run() needs at least one Daemon")
    if health is not None:
        # Fail before anything starts: a bad address, or the extra not installed.
        from .hosting._address import parse_address
        from .hosting.http import serve_health as _  # noqa: F401

        parse_address(health)
    supervisor = Supervisor(clock=clock, on_error=on_error, restart=restart)
    for daemon in daemons:
        supervisor.add(daemon)
    return anyio.run(_main, supervisor, grace, health, backend=backend)


async def _main(supervisor: Supervisor, grace: float, health: str | None) -> int:
    # Imported here: tickwork.hosting is built on the public core that imports this module.
    from .hosting import serve_hosting

    received: list[int] = []
    failed = False
    try:
        async with anyio.create_task_group() as tg:
            # start(), not start_soon(): the handlers are in place before any daemon runs
            await tg.start(_watch_signals, supervisor, grace, received, tg)
            async with supervisor:
                address = await tg.start(partial(serve_hosting, supervisor, health=health))
                if address is not None:
                    _log.info("health endpoint on http://%s (/livez, /readyz, /metrics)", address)
                # leaving the block waits for every daemon
            tg.cancel_scope.cancel()
    except* DaemonError as group:
        for exc in _leaves(group):
            _log.error("%s", exc, exc_info=exc)
        failed = True
    if failed:
        return EXIT_FAILURE
    if received:
        return _SIGNAL_EXIT.get(signal.Signals(received[0]), EXIT_FAILURE)
    return EXIT_OK


def _leaves(group: BaseExceptionGroup[DaemonError]) -> list[DaemonError]:
    """The DaemonErrors in ``group``, unnested (the supervisor's group sits inside ours)."""
    found: list[DaemonError] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found


async def _watch_signals(
    supervisor: Supervisor,
    grace: float,
    received: list[int],
    tg: anyio.abc.TaskGroup,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """First SIGINT/SIGTERM: stop with ``grace``. Second: cancel everything at once."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            received.append(signum)
            if len(received) > 1:
                _log.warning("second signal: cancelling all daemons now")
                tg.cancel_scope.cancel()
                return
            _log.info("received %s; stopping (grace %.1fs)", signal.Signals(signum).name, grace)
            tg.start_soon(supervisor.stop, grace)


def load_daemons(spec: str) -> list[Daemon]:
    """Import ``package.module:factory`` and call it; it returns a Daemon or a list of them."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:factory', got {spec!r}")
    module = importlib.import_module(module_name)
    try:
        factory: Callable[[], Daemon | Iterable[Daemon]] = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    made = factory()
    found = [made] if isinstance(made, Daemon) else list(made)
    for item in found:
        if not is_instance(item, Daemon):
            raise TypeError(f"{spec} returned {item!r}; a factory must return Daemons")
    return found
