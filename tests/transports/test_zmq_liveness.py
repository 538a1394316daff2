"""Heartbeats, silence detection and give-up, on SimClock (no real waiting)."""

from __future__ import annotations

import anyio
import pytest

from tickwork import ChannelClosed, EndOfStream, SimClock
from tickwork.transports.zmq import PeerState, open_zmq_receive, open_zmq_send

from .wire import ACK, EPOCH, HELLO, VERSION, RawPeer


async def test_receiver_with_no_sender_gives_up_after_the_configured_time() -> None:
    clock = SimClock()
    states: list[PeerState] = []
    async with open_zmq_receive(
        "tcp://127.0.0.1:0", clock=clock, give_up_after=5.0, on_peer_state=states.append
    ) as rx:
        ended: list[BaseException] = []
        async with anyio.create_task_group() as tg:

            async def wait_for_item() -> None:
                with pytest.raises(EndOfStream) as info:
                    await rx.receive()
                ended.append(info.value)

            tg.start_soon(wait_for_item)
            await clock.advance(4.0)
            assert rx.peer_state == "connecting"
            assert not ended
            await clock.advance(1.0)
        assert "give_up_after" in str(ended[0])
        assert states == ["gone"]
        assert rx.statistics().open_send_streams == 0


async def test_sender_reports_silence_recovery_and_gives_up() -> None:
    clock = SimClock()
    states: list[PeerState] = []
    came_back = anyio.Event()

    def on_state(state: PeerState) -> None:
        states.append(state)
        if state == "up" and len(states) > 1:
            came_back.set()

    fake, endpoint = RawPeer.router("tcp://127.0.0.1:0")
    try:
        async with open_zmq_send(
            endpoint,
            maxsize=4,
            clock=clock,
            heartbeat_interval=1.0,
            peer_timeout=3.0,
            give_up_after=8.0,
            on_peer_state=on_state,
            linger_ms=0,
        ) as tx:
            with anyio.fail_after(10):
                assert await fake.recv() == b""  # the sender's connection probe
                fake.send(HELLO.pack(0x11, b"tw", VERSION, 777, 0, 0, 4, 0))
                await tx.wait_peer()
            assert states == ["up"]
            await clock.advance(3.5)
            assert states == ["up", "silent"]
            assert tx.transport_statistics().silent_for == 3.5
            fake.send(ACK.pack(0x12, 777, 0, 0, 4, 0))  # the receiver speaks again
            with anyio.fail_after(10):
                await came_back.wait()
            tx.send_nowait("still fine")
            await clock.advance(9.0)  # ticks are whole heartbeats: silence 8.5 at t=12
            assert states == ["up", "silent", "up", "silent", "gone"]
            with pytest.raises(ChannelClosed, match="give_up_after"):
                await tx.send("too late")
            assert tx.statistics().open_receive_streams == 0
    finally:
        fake.close()


async def test_heartbeats_keep_an_idle_channel_up() -> None:
    clock = SimClock()
    async with open_zmq_receive(
        "tcp://127.0.0.1:0", clock=clock, peer_timeout=3.0, give_up_after=5.0, linger_ms=0
    ) as rx:
        fake = RawPeer.dealer(rx.endpoint)
        try:
            with anyio.fail_after(10):
                fake.send(b"")
                hello = await fake.recv()
                epoch = HELLO.unpack(hello)[3]
                from .wire import WELCOME

                fake.send(WELCOME.pack(0x04, b"tw", VERSION, epoch, 99, 0, 8))
                await rx.wait_peer()
            for _ in range(6):
                # The receiver's heartbeat (an ACK) goes out each second; the fake
                # sender answers with PINGs, so the receiver never gives up.
                await clock.advance(1.0)
                with anyio.fail_after(10):
                    frame = await fake.recv()
                assert frame[0] == 0x12
                fake.send(EPOCH.pack(0x03, epoch))
            assert rx.peer_state in ("up", "silent")
            assert rx.peer_state != "gone"
        finally:
            fake.close()


async def test_over_memory_a_silent_sender_is_detected_deterministically() -> None:
    # memory:// has no real I/O, so SimClock's quiescence covers everything: exact.
    clock = SimClock()
    states: list[PeerState] = []
    async with open_zmq_receive(
        "memory://silence",
        maxsize=4,
        clock=clock,
        peer_timeout=2.0,
        give_up_after=6.0,
        on_peer_state=states.append,
        linger_ms=0,
    ) as rx:
        async with open_zmq_send(
            "memory://silence", maxsize=4, clock=clock, heartbeat_interval=1.0
        ) as tx:
            await tx.send(1)
            assert await rx.receive() == 1
            await clock.advance(10.0)  # heartbeats flow both ways: nobody goes silent
            assert states == ["up"]
            assert tx.peer_state == "up"
        # The sender is gone (closed cleanly): its FIN makes the state "closed".
        assert states == ["up", "closed"]
        with pytest.raises(EndOfStream):
            await rx.receive()
