"""``ProcessDaemon``: a Daemon whose work runs in a child Python process.

The parent's Supervisor sees it as any other daemon, so ``on_error`` (restart with
backoff, intensity, ignore, shutdown) applies to a child that crashes, is killed, hangs
or goes silent. ``on_start`` starts the child and returns once every daemon in it has
finished its own ``on_start``; ``run`` supervises it until it ends; ``on_stop`` stops it
(``stop`` message, then SIGTERM, then SIGKILL, each bounded). See docs/cluster.md and
ADRs 0033-0035.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal, cast, final

import anyio
import anyio.abc
import msgspec
import zmq

from tickwork import (
    Clock,
    Context,
    Daemon,
    DaemonHealth,
    ReceiveStream,
    SendStream,
    WallClock,
)
from tickwork._validate import is_instance, is_int
from tickwork.transports.zmq import (
    MsgpackSerde,
    ZmqReceiveStream,
    ZmqSendStream,
    open_zmq_receive,
    open_zmq_send,
)

from ._bridge import Inbound, Outbound
from ._errors import ChildLost, ControlPlaneError, RemoteDaemonError
from ._liveness import stalled
from ._messages import (
    LAUNCH_FILE,
    ChannelSpec,
    ChildDaemonHealth,
    ChildStatus,
    ErrorReport,
    Health,
    Identify,
    Launch,
    LogRecord,
    Ping,
    Status,
    Stop,
    ToParent,
    decode_to_parent,
    encode,
)
from ._plane import Inbox, Outbox

__all__ = ["DEFAULT_COMMAND", "ProcessDaemon"]

DEFAULT_COMMAND: Final = (sys.executable, "-m", "tickwork.cluster._child")
"""How a child starts: the parent's own interpreter; the private directory is appended."""

SILENCE_HEARTBEATS: Final = 4
"""Default ``child_timeout`` / ``parent_timeout``: this many heartbeat intervals."""
EXIT_DRAIN: Final = 0.2
"""Seconds to wait, after a child exited by itself, for its last messages and output."""
STOP_GRACE_SHARE: Final = 0.5
"""The share of ``stop_timeout`` a child's daemons get to return before it cancels them."""
_PIPE_READ: Final = 65536
_ERRORS_LOGGER: Final = "tickwork.cluster"

Mode = Literal["ready", "run", "stop"]


def _check_seconds(value: object, what: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"ProcessDaemon {what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"ProcessDaemon {what} must be a finite number > 0, got {value!r}")
    return float(value)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


@final
class ProcessDaemon(Daemon):
    """Run the daemons made by ``target`` (``"package.module:factory"``) in a child process.

    The child runs the same interpreter, imports ``target`` and calls
    ``factory(*args, **channel_streams)``; it returns a Daemon or a list of them, which
    run under the child's own Supervisor. ``args`` must be msgspec-encodable (they travel
    as MessagePack, never pickle). ``env`` is merged over ``os.environ``; ``cwd`` is the
    child's working directory.

    ``channels`` hands the child ends of in-process channels: ``{"jobs": ch.recv}``
    gives the factory a ``ReceiveStream`` keyword ``jobs`` fed from ``ch``, and
    ``{"results": out.send}`` a ``SendStream`` whose items arrive in ``out``; both are
    ZeroMQ endpoints. The parent keeps what a child had not acknowledged and gives it
    to the next child after a restart (at-least-once; ADR 0034).

    Liveness (seconds of ``clock``, default WallClock: processes run in real time):
    heartbeats every ``heartbeat_interval`` both ways; a child silent for
    ``child_timeout`` fails; a child whose parent is silent ``parent_timeout``, or gone,
    stops itself. ``start_timeout`` bounds start-up (until every child ``on_start``
    returned). Stopping sends ``stop`` and waits ``stop_timeout``, then SIGTERM and
    ``term_timeout``, then SIGKILL and ``kill_timeout``; keep their sum under the
    parent Supervisor's ``finalize_timeout`` when it may cancel. ``command`` replaces
    the interpreter invocation (for a wrapper such as ``nice``); the child's private
    directory is appended to it.
    """

    __slots__ = (
        "_args",
        "_backend",
        "_bridge_failure",
        "_bridges",
        "_channel_maxsize",
        "_child_timeout",
        "_clock",
        "_closed",
        "_command",
        "_cwd",
        "_dir",
        "_down",
        "_env",
        "_fail",
        "_failure",
        "_health",
        "_health_event",
        "_heard",
        "_hosted",
        "_inbound",
        "_kill_timeout",
        "_log_level",
        "_node",
        "_outbound",
        "_parent_timeout",
        "_pid",
        "_proc",
        "_ready",
        "_returncode",
        "_start_timeout",
        "_status",
        "_stop_timeout",
        "_tails",
        "_term_timeout",
        "_up",
        "heartbeat_interval",
        "name",
        "target",
    )

    def __init__(
        self,
        target: str,
        *args: Any,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        channels: Mapping[str, ReceiveStream[Any] | SendStream[Any]] | None = None,
        channel_maxsize: int = 1,
        backend: Literal["asyncio", "trio"] = "asyncio",
        heartbeat_interval: float = 0.25,
        child_timeout: float | None = None,
        parent_timeout: float | None = None,
        start_timeout: float = 10.0,
        stop_timeout: float = 1.0,
        term_timeout: float = 0.5,
        kill_timeout: float = 1.0,
        log_level: int | None = None,
        command: Sequence[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not is_instance(target, str) or target.count(":") != 1 or target.startswith(":"):
            raise ValueError(
                f"ProcessDaemon target must be 'package.module:factory', got {target!r}"
            )
        try:
            msgspec.msgpack.encode(list(args))
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(
                f"ProcessDaemon({target!r}) args must be msgspec-encodable (str, numbers, "
                f"lists, dicts, Structs...); they travel as MessagePack: {exc}"
            ) from None
        for key, value in dict(env or {}).items():
            if not (is_instance(key, str) and is_instance(value, str)):
                raise TypeError(
                    f"ProcessDaemon env must map str to str, got {key!r}: {value!r}; "
                    f"pass the value as text, e.g. {key!r}: str({value!r})"
                )
        if backend not in ("asyncio", "trio"):
            raise ValueError(f"ProcessDaemon backend must be 'asyncio' or 'trio', got {backend!r}")
        if not is_int(channel_maxsize) or channel_maxsize < 0:
            raise ValueError(
                f"ProcessDaemon channel_maxsize must be an int >= 0, got {channel_maxsize!r}"
            )
        self.target: str = target
        self.name: str = name if name is not None else target.rpartition(":")[2]
        self._args = list(args)
        self._env = dict(env) if env is not None else {}
        self._cwd = cwd
        self._backend: Literal["asyncio", "trio"] = backend
        self._channel_maxsize = channel_maxsize
        self._outbound: dict[str, Outbound] = {}
        self._inbound: dict[str, Inbound] = {}
        for key, stream in (channels or {}).items():
            if not is_instance(key, str) or not key.isidentifier():
                raise ValueError(f"ProcessDaemon channel names must be identifiers, got {key!r}")
            if hasattr(stream, "receive") and hasattr(stream, "receive_nowait"):
                self._outbound[key] = Outbound(stream)  # pyright: ignore[reportArgumentType]
            elif hasattr(stream, "send") and hasattr(stream, "send_nowait"):
                self._inbound[key] = Inbound(stream)  # pyright: ignore[reportArgumentType]
            else:
                raise TypeError(
                    f"ProcessDaemon channel {key!r} must be a ReceiveStream (ch.recv) or a "
                    f"SendStream (ch.send), got {stream!r}"
                )
        self.heartbeat_interval: float = _check_seconds(heartbeat_interval, "heartbeat_interval")
        default_silence = SILENCE_HEARTBEATS * self.heartbeat_interval
        self._child_timeout = _check_seconds(
            child_timeout if child_timeout is not None else default_silence, "child_timeout"
        )
        self._parent_timeout = _check_seconds(
            parent_timeout if parent_timeout is not None else default_silence, "parent_timeout"
        )
        self._start_timeout = _check_seconds(start_timeout, "start_timeout")
        self._stop_timeout = _check_seconds(stop_timeout, "stop_timeout")
        self._term_timeout = _check_seconds(term_timeout, "term_timeout")
        self._kill_timeout = _check_seconds(kill_timeout, "kill_timeout")
        self._log_level = log_level
        self._command = tuple(command) if command is not None else DEFAULT_COMMAND
        if not self._command or not all(is_instance(part, str) for part in self._command):
            raise TypeError("ProcessDaemon command must be a non-empty sequence of str")
        self._clock: Clock = clock if clock is not None else WallClock()
        self._proc: anyio.abc.Process | None = None
        self._dir: Path | None = None
        self._up: Inbox | None = None
        self._down: Outbox | None = None
        self._pid: int | None = None
        self._node: str | None = None
        self._status: ChildStatus | None = None
        self._health: tuple[ChildDaemonHealth, ...] = ()
        self._hosted: tuple[DaemonHealth, ...] = ()
        self._heard = 0.0
        self._failure: BaseException | None = None
        self._ready = False
        self._returncode: int | None = None
        self._tails: dict[str, bytes] = {}
        self._closed = anyio.Event()
        self._health_event: anyio.Event | None = None
        self._bridges: AsyncExitStack | None = None
        self._bridge_failure: Exception | None = None
        self._fail: Callable[[BaseException], None] | None = None

    def __repr__(self) -> str:
        return f"<ProcessDaemon {self.name!r} target={self.target!r} pid={self._pid}>"

    # -- what the parent can see -------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The current child's process id (None before the first start)."""
        return self._pid

    @property
    def returncode(self) -> int | None:
        """How the last child ended (negative: the signal); None while it runs."""
        return self._returncode

    @property
    def node(self) -> str | None:
        """The current child's node id, from its ``identify`` message."""
        return self._node

    @property
    def status(self) -> ChildStatus | None:
        """The current child's last reported status."""
        return self._status

    @property
    def remote_health(self) -> tuple[ChildDaemonHealth, ...]:
        """The child supervisor's last ``snapshot()``, one entry per daemon in the child."""
        return self._health

    def hosted_health(self) -> tuple[DaemonHealth, ...]:
        """The child's daemons, for the parent's ``snapshot()`` (``"<name>/<child>"``).

        As of the child's last heartbeat, and only while that child process lives: once
        it has ended, this ProcessDaemon's own entry says how (ADR 0039).
        """
        if self._proc is None or self._returncode is not None:
            return ()
        return self._hosted

    def _as_daemon_health(self, h: ChildDaemonHealth) -> DaemonHealth:
        error = (
            None
            if h.error_type is None
            else RemoteDaemonError(
                daemon=self.name,
                remote_daemon=h.name,
                remote_type=h.error_type,
                remote_args=tuple(h.error_args),
                remote_traceback="",
                pid=self._pid,
            )
        )
        return DaemonHealth(
            name=h.name,
            state=h.state,
            restart_count=h.restart_count,
            last_error=error,
            last_error_phase=h.last_error_phase,
            started_at=None,  # the child's clock is not the parent supervisor's
            uptime=h.uptime,
        )

    async def next_health(self) -> tuple[ChildDaemonHealth, ...]:
        """Wait for the child's next ``health`` message (one per heartbeat) and return it."""
        event = self._health_event
        if event is None or event.is_set():
            event = self._health_event = anyio.Event()
        await event.wait()
        return self._health

    # -- the three hooks ---------------------------------------------------------------

    async def on_start(self, ctx: Context) -> None:
        """Start the child and bridge its channels; return once it reports ``ready``.

        The channels are bridged before the wait, so a child daemon whose ``on_start``
        waits for data from the parent gets it (ADR 0040).
        """
        try:
            await self._spawn(ctx)
            await self._open_bridges()
            await self._watch(ctx, "ready", self._start_timeout)
        except BaseException:
            try:
                await self._close_bridges()  # not in a new scope: its task group is outside
            finally:
                with anyio.CancelScope(shield=True):
                    await self._shutdown(ctx)
            raise

    async def run(self, ctx: Context) -> None:
        """Supervise the child (its channels bridged since on_start) until it ends."""
        try:
            await self._watch(ctx, "run", None)
        finally:
            await self._close_bridges()

    async def on_stop(self, ctx: Context) -> None:
        """Stop the child: ``stop``, then SIGTERM, then SIGKILL, each bounded."""
        await self._shutdown(ctx)

    # -- the data plane ------------------------------------------------------------------

    async def _open_bridges(self) -> None:
        """Open this attempt's channel endpoints and start forwarding, until closed.

        The endpoints and the pumps' task group live in ``self._bridges`` from
        ``on_start`` to the end of ``run`` (both hooks run in the same task, so the
        scopes still nest); ``_close_bridges`` ends them, keeping what is undelivered.
        """
        stack = AsyncExitStack()
        self._bridges = stack
        await stack.__aenter__()
        txs: list[tuple[Outbound, ZmqSendStream[Any]]] = []
        rxs: list[tuple[Inbound, ZmqReceiveStream[Any]]] = []
        for key, out in self._outbound.items():
            tx = await stack.enter_async_context(
                open_zmq_send(
                    self._channel_address(key),
                    bind=True,
                    maxsize=self._channel_maxsize,
                    serde=MsgpackSerde(),
                    linger_ms=0,
                )
            )
            txs.append((out, tx))
        for key, inb in self._inbound.items():
            rx = await stack.enter_async_context(
                open_zmq_receive(
                    self._channel_address(key),
                    bind=True,
                    maxsize=self._channel_maxsize,
                    serde=MsgpackSerde(),
                    linger_ms=0,
                )
            )
            rxs.append((inb, rx))

        def keep_undelivered() -> None:
            for out, tx in txs:
                out.forget_acknowledged(tx)
            for inb, rx in rxs:
                inb.salvage(rx)

        stack.callback(keep_undelivered)
        pumps = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(pumps.cancel_scope.cancel)  # runs first: the pumps end, then the rest

        async def guarded(pump: Callable[[], Awaitable[None]]) -> None:
            try:
                await pump()
            except Exception as exc:  # the watch raises it from on_start or run
                if self._bridge_failure is None:
                    self._bridge_failure = exc
                if self._fail is not None:
                    self._fail(exc)

        for out, tx in txs:
            pumps.start_soon(guarded, partial(out.pump, tx))
        for inb, rx in rxs:
            pumps.start_soon(guarded, partial(inb.pump, rx))

    async def _close_bridges(self) -> None:
        stack, self._bridges = self._bridges, None
        if stack is not None:
            await stack.aclose()

    # -- starting ------------------------------------------------------------------------

    def _channel_address(self, key: str) -> str:
        assert self._dir is not None
        return f"ipc://{self._dir}/ch-{key}"

    async def _spawn(self, ctx: Context) -> None:
        self._failure = self._bridge_failure = None
        self._ready = False
        self._node = self._pid = self._status = self._returncode = None
        self._health = self._hosted = ()
        self._tails = {"stdout": b"", "stderr": b""}
        directory = Path(tempfile.mkdtemp(prefix="tw-cluster-"))  # mode 0700
        self._dir = directory
        context = cast("zmq.Context[Any]", zmq.Context.instance())
        up_address, down_address = f"ipc://{directory}/up", f"ipc://{directory}/down"
        self._up = Inbox(context, up_address, bind=True)
        self._down = Outbox(context, down_address, bind=True)
        specs = [
            ChannelSpec(key, self._channel_address(key), "receive", self._channel_maxsize)
            for key in self._outbound
        ] + [
            ChannelSpec(key, self._channel_address(key), "send", self._channel_maxsize)
            for key in self._inbound
        ]
        level = (
            self._log_level
            if self._log_level is not None
            else logging.getLogger().getEffectiveLevel()
        )
        launch = Launch(
            name=self.name,
            target=self.target,
            args=self._args,
            channels=specs,
            up=up_address,
            down=down_address,
            heartbeat_interval=self.heartbeat_interval,
            parent_timeout=self._parent_timeout,
            log_level=level,
            backend=self._backend,
        )
        (directory / LAUNCH_FILE).write_bytes(encode(launch))
        env = {**os.environ, **self._env}
        self._proc = await anyio.open_process(
            [*self._command, str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._cwd,
            env=env,
        )
        self._pid = self._proc.pid
        self._heard = self._clock.now()

    # -- watching ------------------------------------------------------------------------

    async def _watch(self, ctx: Context, mode: Mode, timeout: float | None) -> None:
        """Read control messages and output until ``mode`` is satisfied; raise a failure.

        ``ready``: until the child reports ready (bounded by ``timeout``). ``run``: until
        the process ends. ``stop``: until it ends or ``timeout``, reporting nothing.
        """
        proc = self._proc
        assert proc is not None
        self._failure = None
        self._closed = anyio.Event()
        if self._status == "closed":
            self._closed.set()
        try:
            async with anyio.create_task_group() as tg:

                def fail(exc: BaseException) -> None:
                    if self._failure is None:
                        self._failure = exc
                    tg.cancel_scope.cancel()

                if mode != "stop":
                    self._fail = fail  # a failing channel bridge fails this watch too
                    if self._bridge_failure is not None:
                        fail(self._bridge_failure)
                tg.start_soon(self._read_control, ctx, mode, tg.cancel_scope, fail)
                if proc.stdout is not None:
                    tg.start_soon(self._read_output, ctx, "stdout", proc.stdout)
                if proc.stderr is not None:
                    tg.start_soon(self._read_output, ctx, "stderr", proc.stderr)
                tg.start_soon(self._heartbeat, mode, fail)
                tg.start_soon(self._wait_exit, ctx, mode, tg.cancel_scope, fail)
                if mode == "run":
                    tg.start_soon(self._relay_stop, ctx)
                if timeout is not None:
                    tg.start_soon(self._alarm, mode, timeout, tg.cancel_scope, fail)
        finally:
            self._fail = None
        if self._failure is not None and mode != "stop":
            raise self._failure

    async def _relay_stop(self, ctx: Context) -> None:
        """The parent is stopping: ask the child to stop too (``run`` returns when it has)."""
        await ctx.stop_event.wait()
        self._send_stop()

    def _send_stop(self) -> None:
        if self._down is not None:
            self._down.send(encode(Stop(grace=self._stop_timeout * STOP_GRACE_SHARE)))

    async def _alarm(self, mode: Mode, timeout: float, scope: anyio.CancelScope, fail: Any) -> None:
        await self._clock.sleep(timeout)
        if mode == "ready":
            fail(
                ChildLost(
                    f"the child of ProcessDaemon {self.name!r} (pid {self._pid}) did not "
                    f"report ready within start_timeout={self._start_timeout}s",
                    daemon=self.name,
                    returncode=None,
                )
            )
        scope.cancel()

    async def _heartbeat(self, mode: Mode, fail: Any) -> None:
        previous: float | None = None
        async for tick in self._clock.every(self.heartbeat_interval, first="now"):
            if self._down is not None:
                self._down.send(encode(Ping()))
            if stalled(previous, tick, self.heartbeat_interval):
                previous = tick
                continue  # we were not running: what the child said waits unread
            previous = tick
            silence = self._clock.now() - self._heard
            if mode == "run" and silence > self._child_timeout:
                fail(
                    ChildLost(
                        f"the child of ProcessDaemon {self.name!r} (pid {self._pid}) was "
                        f"silent for {silence:.2f}s (child_timeout={self._child_timeout}s)",
                        daemon=self.name,
                        returncode=None,
                    )
                )
                return

    async def _read_control(
        self, ctx: Context, mode: Mode, scope: anyio.CancelScope, fail: Any
    ) -> None:
        inbox = self._up
        assert inbox is not None
        while True:
            frame = await inbox.receive()
            self._heard = self._clock.now()
            try:
                self._handle(ctx, frame)
            except (ControlPlaneError, RemoteDaemonError) as exc:
                if mode == "stop":
                    continue
                if isinstance(exc, ControlPlaneError):
                    ctx.logger.error("%s", exc, extra={"daemon": self.name})
                fail(exc)
                return
            if mode == "ready" and self._ready:
                scope.cancel()
                return

    def _handle(self, ctx: Context, frame: bytes) -> None:
        try:
            message = decode_to_parent(frame)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ControlPlaneError(
                f"malformed control message from the child of ProcessDaemon {self.name!r} "
                f"(pid {self._pid}): {exc}; the child is treated as failed",
                daemon=self.name,
            ) from None
        if isinstance(message, Identify):
            if self._node is not None:
                raise self._unexpected(message, "a second identify")
            self._node = message.node
            self._status = message.status
        elif self._node is None:
            raise self._unexpected(message, f"{type(message).__name__.lower()} before identify")
        elif isinstance(message, Status):
            self._status = message.status
            if message.status == "closed":
                self._closed.set()
            if message.status in ("ready", "running"):
                self._ready = True
        elif isinstance(message, Health):
            self._health = tuple(message.daemons)
            self._hosted = tuple(self._as_daemon_health(h) for h in message.daemons)
            if self._health_event is not None:
                self._health_event.set()
        elif isinstance(message, LogRecord):
            self._relay_log(message)
        elif isinstance(message, ErrorReport):
            raise RemoteDaemonError(
                daemon=self.name,
                remote_daemon=message.daemon,
                remote_type=message.type_name,
                remote_args=tuple(message.args),
                remote_traceback=message.traceback,
                pid=self._pid,
            )

    def _unexpected(self, message: ToParent, what: str) -> ControlPlaneError:
        return ControlPlaneError(
            f"unexpected control message from the child of ProcessDaemon {self.name!r} "
            f"(pid {self._pid}): {what} ({message!r}); the child is treated as failed",
            daemon=self.name,
        )

    def _relay_log(self, message: LogRecord) -> None:
        logger = logging.getLogger(message.logger)
        if not logger.isEnabledFor(message.level):
            return
        record = logging.makeLogRecord(
            {
                "name": message.logger,
                "levelno": message.level,
                "levelname": logging.getLevelName(message.level),
                "msg": message.message,
                "created": message.created,
                "process": self._pid,
                "daemon": message.daemon if message.daemon is not None else self.name,
                "process_daemon": self.name,
                "sim_time": message.sim_time,
                "exc_text": message.exc_text,
            }
        )
        logger.handle(record)

    async def _read_output(
        self, ctx: Context, stream: str, pipe: anyio.abc.ByteReceiveStream
    ) -> None:
        level = logging.INFO if stream == "stdout" else logging.WARNING
        while True:
            try:
                chunk = await pipe.receive(_PIPE_READ)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                tail = self._tails[stream]
                self._tails[stream] = b""
                if tail:
                    self._log_line(ctx, stream, level, tail)
                return
            *lines, self._tails[stream] = (self._tails[stream] + chunk).split(b"\n")
            for line in lines:
                self._log_line(ctx, stream, level, line)

    def _log_line(self, ctx: Context, stream: str, level: int, line: bytes) -> None:
        text = line.decode(errors="replace").rstrip("\r")
        ctx.logger.log(level, "%s", text, extra={"daemon": self.name, "stream": stream})

    async def _wait_exit(
        self, ctx: Context, mode: Mode, scope: anyio.CancelScope, fail: Any
    ) -> None:
        proc = self._proc
        assert proc is not None
        returncode = await proc.wait()
        self._returncode = returncode
        if returncode >= 0 and self._status != "closed":
            # Its last messages may still be on their way: give them a moment.
            async with anyio.create_task_group() as drain:

                async def give_up() -> None:
                    await self._clock.sleep(EXIT_DRAIN)
                    drain.cancel_scope.cancel()

                drain.start_soon(give_up)
                await self._closed.wait()
                drain.cancel_scope.cancel()
        if mode == "stop":
            scope.cancel()
            return
        if returncode == 0 and self._status == "closed" and mode == "run":
            scope.cancel()
            return
        fail(
            ChildLost(
                f"the child of ProcessDaemon {self.name!r} (pid {self._pid}) "
                f"{_describe_exit(returncode)}"
                + (" before it was ready" if mode == "ready" else ""),
                daemon=self.name,
                returncode=returncode,
            )
        )

    # -- stopping --------------------------------------------------------------------------

    async def _shutdown(self, ctx: Context) -> None:
        proc = self._proc
        try:
            if proc is not None and proc.returncode is None:
                self._send_stop()
                await self._watch(ctx, "stop", self._stop_timeout)
                if proc.returncode is None:
                    ctx.logger.warning(
                        "ProcessDaemon %r: child pid %s did not stop within "
                        "stop_timeout=%ss; sending SIGTERM",
                        self.name,
                        self._pid,
                        self._stop_timeout,
                        extra={"daemon": self.name},
                    )
                    proc.terminate()
                    await self._watch(ctx, "stop", self._term_timeout)
                if proc.returncode is None:
                    ctx.logger.warning(
                        "ProcessDaemon %r: child pid %s did not exit within "
                        "term_timeout=%ss after SIGTERM; sending SIGKILL",
                        self.name,
                        self._pid,
                        self._term_timeout,
                        extra={"daemon": self.name},
                    )
                    proc.kill()
                    await self._watch(ctx, "stop", self._kill_timeout)
        finally:
            await self._release(proc)

    async def _release(self, proc: anyio.abc.Process | None) -> None:
        if proc is not None:
            if proc.returncode is not None:
                await proc.aclose()  # pipes and the backend's process transport
            else:  # unkillable (e.g. stuck in the kernel): at least close our pipes
                for pipe in (proc.stdin, proc.stdout, proc.stderr):
                    if pipe is not None:
                        await pipe.aclose()
        self._proc = None
        if self._up is not None:
            self._up.close()
            self._up = None
        if self._down is not None:
            self._down.close()
            self._down = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
