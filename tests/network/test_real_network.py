"""A NetworkDaemon watching a real TCP server on 127.0.0.1 that goes away and comes back."""

from __future__ import annotations

import anyio
import anyio.abc

from tickwork import Context, SimClock, Supervisor
from tickwork.network import Backoff, NetworkDaemon, NetworkStatus, StatusChange

S = NetworkStatus


class TcpWatch(NetworkDaemon):
    """Connected means: a TCP connect to the port succeeds (real I/O, clock held still)."""

    def __init__(self, clock: SimClock, port: int) -> None:
        super().__init__(name="tcp-watch", backoff=Backoff(jitter=0.0))
        self.clock = clock
        self.port = port
        self.refused = 0

    async def check_network(self, ctx: Context) -> NetworkStatus:
        try:
            with self.clock.busy():  # SimClock must not move while real I/O is in flight
                stream = await anyio.connect_tcp("127.0.0.1", self.port)
                await stream.aclose()
        except OSError:
            self.refused += 1
            return S.NOT_CONNECTED
        return S.CONNECTED


class Server:
    """A loopback TCP server the test can stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._scope: anyio.CancelScope | None = None

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.accepted += 1
        await stream.aclose()

    async def start(self, tg: anyio.abc.TaskGroup) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self.port)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        scope = self._scope = anyio.CancelScope()

        async def serve() -> None:
            with scope:
                async with listener:
                    await listener.serve(self._handle)

        tg.start_soon(serve)

    def stop(self) -> None:
        assert self._scope is not None
        self._scope.cancel()


async def test_watches_a_real_server_that_stops_and_restarts() -> None:
    clock = SimClock()
    server = Server()
    async with anyio.create_task_group() as tg:
        await server.start(tg)
        watch = TcpWatch(clock, server.port)
        async with Supervisor(clock=clock) as sup:
            sup.add(watch)
            await clock.run_until_idle()
            assert watch.network_status is S.CONNECTED
            await clock.advance_to(5)
            server.stop()
            await clock.advance_to(10.5)
            assert watch.network_status is S.NOT_CONNECTED
            await clock.advance_to(12)
            await server.start(tg)
            await clock.advance_to(20)
            await sup.stop()
        server.stop()
        assert watch.status_history == [
            StatusChange(0, S.STOPPED, S.NOT_CONNECTED),
            StatusChange(0, S.NOT_CONNECTED, S.CONNECTING),
            StatusChange(0, S.CONNECTING, S.CONNECTED),
            StatusChange(10, S.CONNECTED, S.NOT_CONNECTED),
            StatusChange(11, S.NOT_CONNECTED, S.CONNECTING),
            StatusChange(11, S.CONNECTING, S.NOT_CONNECTED),
            StatusChange(13, S.NOT_CONNECTED, S.CONNECTING),
            StatusChange(13, S.CONNECTING, S.CONNECTED),
            StatusChange(20, S.CONNECTED, S.DISCONNECTING),
            StatusChange(20, S.DISCONNECTING, S.STOPPED),
        ]
        assert watch.refused == 2
        assert (watch.connects, watch.disconnects) == (2, 2)
