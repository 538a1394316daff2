"""The child process: ``python -m tickwork.cluster._child DIRECTORY`` (started by ProcessDaemon).

It reads the launch description from ``DIRECTORY``, connects the control plane, opens
the data-plane channels, builds the daemons with ``factory(*args, **channels)`` and runs
them under its own Supervisor (on WallClock), reporting ``identify``, each ``status``,
heartbeats with ``health``, log records and an ``error`` if one escapes. It stops
itself when the parent asks, or when the parent is gone: its stdin (a pipe from the
parent) reaches end of file, its parent pid changes, or the parent is silent past
``parent_timeout``. Exit status: 0 after a clean stop, 1 after an error.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Iterable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final, cast, final

import anyio
import msgspec
import zmq

from tickwork import Daemon, DaemonError, DaemonHealth, Supervisor, WallClock
from tickwork._logging import library_logger
from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive, open_zmq_send

from ._confirm import ConfirmedSend
from ._liveness import stalled
from ._messages import (
    LAUNCH_FILE,
    ChildDaemonHealth,
    ErrorReport,
    Health,
    Identify,
    Launch,
    LogRecord,
    Ping,
    Status,
    Stop,
    decode_launch,
    decode_to_child,
    encode,
)
from ._plane import Inbox, Outbox

__all__ = ["main"]

LINGER_MS: Final = 1000
"""How long the last messages (the error, ``closed``) may take to leave at exit."""
STOP_GRACE_ORPHAN: Final = 1.0
"""Seconds an orphaned child gives its daemons to return before cancelling them."""
EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
_STDIN: Final = 0
_READ_SIZE: Final = 4096

_log = library_logger("tickwork.cluster.child")


def build_daemons(target: str, args: list[Any], channels: dict[str, Any]) -> list[Daemon]:
    """Import ``package.module:factory`` and call it; it returns a Daemon or a list of them."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:factory', got {target!r}")
    module = importlib.import_module(module_name)
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    made: object = factory(*args, **channels)
    if isinstance(made, Daemon):
        found: list[object] = [made]
    elif isinstance(made, Iterable):
        found = list(cast("Iterable[object]", made))
    else:
        raise TypeError(f"{target} returned {made!r}; a factory must return Daemons")
    daemons: list[Daemon] = []
    for item in found:
        if not isinstance(item, Daemon):
            raise TypeError(f"{target} returned {item!r}; a factory must return Daemons")
        daemons.append(item)
    return daemons


@final
class _ShipLogs(logging.Handler):
    """Sends every record to the parent as a ``log`` message (dropped if it cannot go)."""

    def __init__(self, up: Outbox, level: int) -> None:
        super().__init__(level)
        self._up = up

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc_text = (
                "".join(traceback.format_exception(*record.exc_info))
                if record.exc_info and record.exc_info[0] is not None
                else None
            )
            sim_time = getattr(record, "sim_time", None)
            daemon = getattr(record, "daemon", None)
            message = LogRecord(
                level=record.levelno,
                logger=record.name,
                message=record.getMessage(),
                daemon=daemon if isinstance(daemon, str) else None,
                sim_time=float(sim_time) if isinstance(sim_time, int | float) else None,
                created=record.created,
                exc_text=exc_text,
            )
            self._up.send(encode(message))
        except Exception:
            self.handleError(record)


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _report(exc: BaseException, fallback: str) -> ErrorReport:
    """The ``error`` message for what escaped: the original behind a DaemonError."""
    daemon = fallback
    leaf: BaseException = exc
    while isinstance(leaf, BaseExceptionGroup):
        group = cast("BaseExceptionGroup[BaseException]", leaf)
        leaf = group.exceptions[0]
    if isinstance(leaf, DaemonError):
        daemon = leaf.daemon
        if leaf.__cause__ is not None:
            leaf = leaf.__cause__
    return ErrorReport(
        daemon=daemon,
        type_name=_type_name(leaf),
        args=[repr(arg) for arg in cast("tuple[object, ...]", leaf.args)],
        traceback="".join(traceback.format_exception(leaf)),
    )


def _daemon_health(h: DaemonHealth) -> ChildDaemonHealth:
    error = h.last_error
    if error is not None and isinstance(error, DaemonError) and error.__cause__ is not None:
        error = error.__cause__
    return ChildDaemonHealth(
        name=h.name,
        state=h.state,
        restart_count=h.restart_count,
        last_error=None if error is None else f"{type(error).__name__}: {error}",
        last_error_phase=h.last_error_phase,
        uptime=h.uptime,
        error_type=None if error is None else _type_name(error),
        error_args=[] if error is None else [repr(arg) for arg in error.args],
    )


def _health(supervisor: Supervisor) -> Health:
    return Health(daemons=[_daemon_health(h) for h in supervisor.snapshot().values()])


@final
class _Child:
    """One child process's runtime: control plane, parent watch, the supervisor."""

    def __init__(self, launch: Launch, up: Outbox, down: Inbox) -> None:
        self.launch = launch
        self.up = up
        self.down = down
        self.clock = WallClock()
        self.heard = self.clock.now()
        self.parent_pid = os.getppid()

    def say(self, message: Ping | Identify | Status | ErrorReport | Health) -> None:
        self.up.send(encode(message))

    async def run(self) -> None:
        launch = self.launch
        self.say(Identify(node=uuid.uuid4().hex, status="waiting", pid=os.getpid()))
        async with AsyncExitStack() as stack:
            channels: dict[str, Any] = {}
            for spec in launch.channels:
                if spec.direction == "receive":
                    channels[spec.name] = await stack.enter_async_context(
                        open_zmq_receive(
                            spec.address, bind=False, maxsize=spec.maxsize, serde=MsgpackSerde()
                        )
                    )
                else:
                    tx = await stack.enter_async_context(
                        open_zmq_send(
                            spec.address, bind=False, maxsize=spec.maxsize, serde=MsgpackSerde()
                        )
                    )
                    channels[spec.name] = ConfirmedSend(tx)
            daemons = build_daemons(launch.target, launch.args, channels)
            supervisor = Supervisor(clock=self.clock)
            async with anyio.create_task_group() as watchers:
                async with supervisor:
                    for daemon in daemons:
                        supervisor.add(daemon)
                    watchers.start_soon(self._listen, supervisor)
                    watchers.start_soon(self._heartbeat, supervisor)
                    watchers.start_soon(self._watch_stdin, supervisor)
                    await supervisor.wait_all_started()
                    if not any(h.state == "failed" for h in supervisor.snapshot().values()):
                        # (A failed on_start ends the supervisor: its error is the report.)
                        self.say(Status(status="ready"))
                        self.say(Status(status="running"))
                watchers.cancel_scope.cancel()
        self.say(Status(status="stopped"))

    async def _listen(self, supervisor: Supervisor) -> None:
        while True:
            frame = await self.down.receive()
            self.heard = self.clock.now()
            try:
                message = decode_to_child(frame)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                _log.error("malformed control message from the parent ignored: %s", exc)
                continue
            if isinstance(message, Stop):
                supervisor.signal_stop()
                with contextlib.suppress(Exception):
                    await supervisor.stop(grace=message.grace)

    async def _heartbeat(self, supervisor: Supervisor) -> None:
        launch = self.launch
        previous: float | None = None
        async for tick in self.clock.every(launch.heartbeat_interval, first="now"):
            self.say(Ping())
            self.say(_health(supervisor))
            if stalled(previous, tick, launch.heartbeat_interval):
                previous = tick
                continue  # we were not running (SIGSTOP, a long GC): judge next tick
            previous = tick
            gone = os.getppid() != self.parent_pid
            silent = self.clock.now() - self.heard > launch.parent_timeout
            if gone or silent:
                why = "its parent process is gone" if gone else "the parent went silent"
                _log.warning("child of %r stops itself: %s", launch.name, why)
                await self._orphaned(supervisor)
                return

    async def _watch_stdin(self, supervisor: Supervisor) -> None:
        """The parent holds our stdin's write end: end of file means it is gone."""
        while True:
            await anyio.wait_readable(_STDIN)
            if not os.read(_STDIN, _READ_SIZE):
                _log.warning(
                    "child of %r stops itself: its parent process is gone", self.launch.name
                )
                await self._orphaned(supervisor)
                return

    async def _orphaned(self, supervisor: Supervisor) -> None:
        await supervisor.stop(grace=STOP_GRACE_ORPHAN)


async def _serve(launch: Launch) -> int:
    context: zmq.Context[Any] = zmq.Context()
    up = Outbox(context, launch.up, bind=False)
    down = Inbox(context, launch.down, bind=False)
    handler = _ShipLogs(up, launch.log_level)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(launch.log_level)
    child = _Child(launch, up, down)
    code = EXIT_OK
    try:
        await child.run()
    except Exception as exc:
        child.say(_report(exc, launch.name))
        code = EXIT_ERROR
    finally:
        root.removeHandler(handler)
        with contextlib.suppress(Exception):
            child.say(Status(status="closed"))
        down.close()
        up.close(LINGER_MS)
        context.term()
    return code


def main(argv: list[str]) -> int:
    """Entry point: ``argv`` is ``[DIRECTORY]``."""
    if len(argv) != 1:
        print("usage: python -m tickwork.cluster._child DIRECTORY", file=sys.stderr)
        return 2
    launch = decode_launch((Path(argv[0]) / LAUNCH_FILE).read_bytes())
    return anyio.run(_serve, launch, backend=launch.backend)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
