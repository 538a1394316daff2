"""The health endpoint: ``/livez``, ``/readyz``, ``/metrics`` over HTTP/1.1 on anyio.

h11 does the HTTP framing; this module only moves bytes and bounds everything a
client can make it wait for or hold: a connection limit (extra connections are
closed at once), a deadline on the clock for each request head and each response
write, a cap on the head's size (431), no request bodies (400). Rendering runs in a
worker thread, one at a time. A connection's failure is logged, never raised into
the supervisor's task group.
"""

from __future__ import annotations

import json
from typing import Final, final

import anyio
import anyio.abc
import h11
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from tickwork import Clock, DaemonHealth
from tickwork._logging import library_logger
from tickwork._validate import is_int, is_number
from tickwork.hosting._address import parse_address
from tickwork.hosting._monitor import HealthMonitor, HealthSummary
from tickwork.hosting._serve import STATUS_INTERVAL

from ._metrics import capture, render

__all__ = [
    "HEADER_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_HEAD_BYTES",
    "METRICS_MAX_AGE",
    "WRITE_TIMEOUT",
    "serve_health",
]

MAX_CONNECTIONS: Final = 64
"""Open connections at once; more are closed on accept. Probers and a scraper need a few."""

HEADER_TIMEOUT: Final = 5.0
"""Clock seconds to receive a complete request head, from accept or the previous response."""

WRITE_TIMEOUT: Final = 10.0
"""Clock seconds to hand a response to a client that is slow to read it."""

MAX_HEAD_BYTES: Final = 16 * 1024
"""Largest incomplete request head (h11's default); past it, 431.

h11 checks the size while the head is still incomplete, after each read of up to
``_RECEIVE_CHUNK`` bytes, so a head that completes within the read that crosses the
cap is still parsed: no head over ``MAX_HEAD_BYTES + _RECEIVE_CHUNK`` is ever served.
"""

METRICS_MAX_AGE: Final = STATUS_INTERVAL
"""Clock seconds one rendered ``/metrics`` body is served again (the health period).

Rendering is the endpoint's one costly job (about 0.4 s of CPU for 10,000 daemons in
prometheus_client), so concurrent and repeated scrapes share one render per period:
however many scrapers, or a flood of them, the cost stays at most one render a second.
Prometheus scrapes every 15 s by default and never sees a repeat.
"""

_RECEIVE_CHUNK: Final = 16 * 1024
_ACCEPT_BACKOFF: Final = 0.1
"""Clock seconds to wait after accept() fails (out of file descriptors), not to spin."""

_log = library_logger("tickwork.hosting")

Reply = tuple[int, list[tuple[str, str]], bytes]


@final
class _Expiry:
    """Cancels ``scope`` at ``clock.now() + seconds`` (fixed when armed) unless disarmed."""

    __slots__ = ("_timer", "scope")

    def __init__(self, clock: Clock, seconds: float, tg: anyio.abc.TaskGroup) -> None:
        self.scope = anyio.CancelScope()
        self._timer = anyio.CancelScope()
        tg.start_soon(self._run, clock, clock.now() + seconds)

    async def _run(self, clock: Clock, deadline: float) -> None:
        with self._timer:
            await clock.wait_until(deadline)
            self.scope.cancel()

    def disarm(self) -> None:
        self._timer.cancel()


def _response_done(conn: h11.Connection) -> bool:
    """Our side finished a response (a helper: the checker narrows ``our_state`` too far)."""
    return conn.our_state is h11.DONE


def _reply(status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> Reply:
    return status, [("content-type", content_type)], body


def _text(status: int, message: str) -> Reply:
    return _reply(status, f"{message}\n".encode())


def _readyz_body(summary: HealthSummary, snapshot: dict[str, DaemonHealth]) -> bytes:
    daemons = [
        {
            "name": name,
            "state": health.state,
            "restart_count": health.restart_count,
            "last_error": None
            if health.last_error is None
            else f"{type(health.last_error).__name__}: {health.last_error}",
            "stuck": name in summary.stuck,
        }
        for name, health in snapshot.items()
    ]
    document = {"ready": summary.ready, "status": summary.status_line(), "daemons": daemons}
    return json.dumps(document).encode()


@final
class _Server:
    __slots__ = (
        "_header_timeout",
        "_limiter",
        "_metrics",
        "_metrics_lock",
        "_monitor",
        "_render_limiter",
        "_write_timeout",
    )

    def __init__(
        self,
        monitor: HealthMonitor,
        max_connections: int,
        header_timeout: float,
        write_timeout: float,
    ) -> None:
        self._monitor = monitor
        self._limiter = anyio.CapacityLimiter(max_connections)
        self._render_limiter = anyio.CapacityLimiter(1)
        self._metrics_lock = anyio.Lock()
        self._metrics: tuple[float, bytes] | None = None  # (rendered at, body)
        self._header_timeout = header_timeout
        self._write_timeout = write_timeout

    async def accept_loop(
        self, listener: anyio.abc.SocketListener, tg: anyio.abc.TaskGroup
    ) -> None:
        clock = self._monitor.supervisor.clock
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:
                _log.warning("health endpoint: accept failed (%s); retrying", exc)
                await clock.sleep(_ACCEPT_BACKOFF)
                continue
            token = object()
            try:
                self._limiter.acquire_on_behalf_of_nowait(token)
            except anyio.WouldBlock:
                _log.debug("health endpoint: %d connections open; refused one", MAX_CONNECTIONS)
                await stream.aclose()
                continue
            tg.start_soon(self._connection, stream, token)

    async def _connection(self, stream: anyio.abc.SocketStream, token: object) -> None:
        try:
            async with stream, anyio.create_task_group() as tg:
                try:
                    await self._converse(stream, tg)
                finally:
                    tg.cancel_scope.cancel()  # pending deadline timers
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # the client went away
        except Exception:
            # One connection's trouble must never reach the supervisor's task group.
            _log.exception("health endpoint: connection failed")
        finally:
            self._limiter.release_on_behalf_of(token)

    async def _converse(self, stream: anyio.abc.SocketStream, tg: anyio.abc.TaskGroup) -> None:
        clock = self._monitor.supervisor.clock
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        expiry = _Expiry(clock, self._header_timeout, tg)
        while True:
            request: h11.Request | None = None
            problem: Reply | None = None
            with expiry.scope:
                request, problem = await self._read_request(stream, conn)
            expiry.disarm()
            if expiry.scope.cancelled_caught:
                return  # too slow to send its request: close
            if request is not None:
                reply = await self._route(request)
            elif problem is not None:
                reply = problem
            else:
                return  # closed cleanly between requests
            keep_alive = problem is None and conn.their_state is h11.DONE
            status, headers, body = reply
            headers = [*headers, ("content-length", str(len(body))), ("server", "tickwork")]
            if not keep_alive:
                headers.append(("connection", "close"))
            if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
                return
            data = conn.send(h11.Response(status_code=status, headers=headers))
            if request is None or request.method != b"HEAD":
                data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
            if keep_alive and _response_done(conn):
                conn.start_next_cycle()
                # Armed before the reply goes out: the next head's deadline runs from here.
                expiry = _Expiry(clock, self._header_timeout, tg)
            else:
                keep_alive = False
            write = _Expiry(clock, self._write_timeout, tg)
            with write.scope:
                await stream.send(data)
            write.disarm()
            if write.scope.cancelled_caught or not keep_alive:
                return

    async def _read_request(
        self, stream: anyio.abc.SocketStream, conn: h11.Connection
    ) -> tuple[h11.Request | None, Reply | None]:
        """The next request (body-less), or an error reply, or (None, None) at EOF."""
        request: h11.Request | None = None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                return None, _text(exc.error_status_hint, f"bad request: {exc}")
            if event is h11.NEED_DATA:
                try:
                    data = await stream.receive(_RECEIVE_CHUNK)
                except anyio.EndOfStream:
                    data = b""
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                return None, _text(400, "bad request: these endpoints take no request body")
            elif isinstance(event, h11.EndOfMessage):
                return request, None
            else:  # ConnectionClosed, or PAUSED after a protocol switch request
                return None, None

    async def _route(self, request: h11.Request) -> Reply:
        path = request.target.partition(b"?")[0]
        if path not in (b"/livez", b"/readyz", b"/metrics"):
            return _text(404, "not found: try /livez, /readyz or /metrics")
        if request.method not in (b"GET", b"HEAD"):
            status, headers, body = _text(405, "method not allowed: use GET or HEAD")
            return status, [*headers, ("allow", "GET, HEAD")], body
        if path == b"/livez":
            return _text(200, "ok")
        if path == b"/readyz":
            summary, snapshot = self._monitor.evaluate()
            body = await anyio.to_thread.run_sync(
                _readyz_body, summary, snapshot, limiter=self._render_limiter
            )
            return _reply(200 if summary.ready else 503, body, "application/json")
        return _reply(200, await self._metrics_body(), CONTENT_TYPE_PLAIN_0_0_4)

    async def _metrics_body(self) -> bytes:
        """The exposition, rendered at most once per ``METRICS_MAX_AGE`` clock seconds."""
        clock = self._monitor.supervisor.clock
        async with self._metrics_lock:  # a scrape arriving mid-render waits and reuses it
            cached = self._metrics
            if cached is not None and clock.now() - cached[0] < METRICS_MAX_AGE:
                return cached[1]
            captured_at = clock.now()
            scrape = capture(self._monitor)
            body = await anyio.to_thread.run_sync(render, scrape, limiter=self._render_limiter)
            self._metrics = (captured_at, body)
            return body


def _format(address: tuple[object, ...]) -> str:
    host, port = str(address[0]), int(str(address[1]))
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve_health(
    monitor: HealthMonitor,
    address: str,
    *,
    max_connections: int = MAX_CONNECTIONS,
    header_timeout: float = HEADER_TIMEOUT,
    write_timeout: float = WRITE_TIMEOUT,
    task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/livez``, ``/readyz`` and ``/metrics`` for ``monitor`` at ``address``.

    ``address`` is ``"host:port"``; a bare ``":port"`` binds loopback (127.0.0.1).
    ``start()`` returns the bound ``host:port`` (useful with port 0). Runs until
    cancelled. Deadlines are clock seconds on the supervisor's clock.
    """
    host, port = parse_address(address)
    if not is_int(max_connections) or max_connections < 1:
        raise ValueError(f"max_connections must be an int >= 1, got {max_connections!r}")
    for label, value in (("header_timeout", header_timeout), ("write_timeout", write_timeout)):
        if not (is_number(value) and 0 < value < float("inf")):
            raise ValueError(f"{label} must be > 0 clock seconds, got {value!r}")
    server = _Server(monitor, max_connections, header_timeout, write_timeout)
    try:
        multi = await anyio.create_tcp_listener(local_host=host, local_port=port)
    except OSError as exc:
        raise OSError(
            exc.errno, f"health endpoint cannot listen on {host}:{port}: {exc.strerror}"
        ) from exc
    async with multi, anyio.create_task_group() as tg:
        for listener in multi.listeners:
            assert isinstance(listener, anyio.abc.SocketListener)
            tg.start_soon(server.accept_loop, listener, tg)
        bound = multi.listeners[0].extra(anyio.abc.SocketAttribute.local_address)
        task_status.started(_format(tuple(bound) if isinstance(bound, tuple) else (bound, 0)))
