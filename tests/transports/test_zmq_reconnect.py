"""The TCP connection drops mid-stream (a proxy cuts it): nothing lost, nothing doubled."""

from __future__ import annotations

import anyio
import anyio.abc

from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive, open_zmq_send


class CuttingProxy:
    """A TCP relay on 127.0.0.1 whose live connections the test can cut at will."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.streams: list[anyio.abc.SocketStream] = []
        self.connections = 0

    async def pump(self, src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream) -> None:
        try:
            async for chunk in src:
                await dst.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            await dst.aclose()

    async def handle(self, client: anyio.abc.SocketStream) -> None:
        self.connections += 1
        try:
            upstream = await anyio.connect_tcp("127.0.0.1", self.target_port)
        except OSError:
            await client.aclose()
            return
        self.streams += [client, upstream]
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.pump, client, upstream)
            tg.start_soon(self.pump, upstream, client)

    async def cut(self) -> None:
        streams, self.streams = self.streams, []
        for stream in streams:
            await stream.aclose()


async def test_dropped_connections_lose_and_double_nothing() -> None:
    total, cuts = 600, (150, 400)
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    got: list[int] = []
    resent = 0
    async with open_zmq_receive("tcp://127.0.0.1:0", maxsize=16, serde=serde) as rx:
        port = int(rx.endpoint.rsplit(":", 1)[1])
        proxy = CuttingProxy(port)
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        proxy_port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, proxy.handle)
            async with open_zmq_send(
                f"tcp://127.0.0.1:{proxy_port}", maxsize=16, serde=serde
            ) as tx:

                async def produce() -> None:
                    for i in range(total):
                        await tx.send(i)
                    await tx.aclose()

                with anyio.fail_after(30):
                    async with anyio.create_task_group() as inner:
                        inner.start_soon(produce)
                        async for item in rx:
                            got.append(item)
                            if len(got) in cuts:
                                await proxy.cut()
                resent = tx.transport_statistics().resent
            tg.cancel_scope.cancel()
        await listener.aclose()
    assert got == list(range(total)), "lost, doubled or reordered across reconnects"
    assert proxy.connections >= 3
    assert rx.transport_statistics().handshakes >= 3
    assert resent >= 0
