"""Bad input: malformed frames and payloads that fail validation raise FrameError in place."""

from __future__ import annotations

import math
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwork.transports.zmq import FrameError, MsgpackSerde, open_zmq_channel, open_zmq_receive

from .wire import RawPeer, data, greet_as_sender


class Good(msgspec.Struct):
    n: int
    tag: str


GOOD = msgspec.msgpack.Encoder()


async def test_payload_failing_validation_raises_frame_error_and_the_next_item_arrives() -> None:
    serde: MsgpackSerde[Any] = MsgpackSerde(int)
    async with open_zmq_receive("tcp://127.0.0.1:0", maxsize=8, serde=serde) as rx:
        from tickwork.transports.zmq import open_zmq_send

        async with open_zmq_send(rx.endpoint, maxsize=8) as tx:  # sends anything
            await tx.send(1)
            await tx.send("not an int")
            await tx.send(3)
            with anyio.fail_after(10):
                assert await rx.receive() == 1
                with pytest.raises(FrameError) as info:
                    await rx.receive()
                assert await rx.receive() == 3
    assert "Expected `int`, got `str`" in str(info.value)
    assert rx.endpoint in info.value.peer
    assert rx.transport_statistics().rejected_frames == 1
    assert rx.transport_statistics().delivered == 3


# Junk a hostile or broken peer might send on an established connection.
junk_frames = st.one_of(
    st.binary(min_size=1, max_size=64),  # anything at all
    st.tuples(
        st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11, 0x12, 0x13, 0x14, 0x15]),
        st.binary(),
    ).map(lambda t: bytes([t[0]]) + t[1]),  # a known kind with a wrong body
)
payload_junk = st.binary(max_size=64).map(lambda b: ("payload", b))
script = st.lists(
    st.one_of(junk_frames.map(lambda b: ("frame", b)), payload_junk, st.just(("good", b""))),
    max_size=20,
)


async def run_script(steps: list[tuple[str, bytes]]) -> None:
    """Interleave junk with good items on one connection; account for every frame."""
    serde: MsgpackSerde[Good] = MsgpackSerde(Good)
    async with open_zmq_receive(
        "tcp://127.0.0.1:0", maxsize=math.inf, serde=serde, linger_ms=0
    ) as rx:
        raw = RawPeer.dealer(rx.endpoint)
        try:
            with anyio.fail_after(10):
                epoch = await greet_as_sender(raw)
                seq, sent_good, junk = 0, 0, 0
                for kind, body in [*steps, ("good", b"")]:
                    if kind == "good":
                        seq += 1
                        raw.send(data(epoch, seq, GOOD.encode(Good(sent_good, "good"))))
                        sent_good += 1
                    elif kind == "payload":
                        seq += 1
                        raw.send(data(epoch, seq, body))
                        junk += 1
                    else:
                        raw.send(body)
                        junk += 1
                got: list[int] = []
                errors: list[FrameError] = []
                odd = 0
                while len(got) < sent_good:
                    try:
                        item = await rx.receive()
                    except FrameError as exc:
                        errors.append(exc)
                        continue
                    if item.tag == "good":
                        got.append(item.n)
                    else:
                        odd += 1  # junk that happens to be a valid Good: delivered as data
        finally:
            raw.close()
        stats = rx.transport_statistics()
    assert got == list(range(sent_good)), "good items lost, reordered or doubled"
    assert len(errors) + stats.stale_frames + odd == junk, (errors, stats)
    assert stats.rejected_frames == len(errors)
    for exc in errors:
        assert exc.reason, exc
        assert rx.endpoint in exc.peer, exc


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script)
async def test_fuzzed_frames_never_kill_the_receiver(steps: list[tuple[str, bytes]]) -> None:
    await run_script(steps)


@pytest.mark.slow
@settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script)
async def test_fuzzed_frames_never_kill_the_receiver_10k(steps: list[tuple[str, bytes]]) -> None:
    await run_script(steps)


async def test_junk_from_a_stranger_is_a_frame_error_and_the_channel_goes_on() -> None:
    serde: MsgpackSerde[int] = MsgpackSerde(int)
    async with open_zmq_channel("tcp://127.0.0.1:0", maxsize=4, serde=serde) as ch:
        rx = ch.recv
        assert isinstance(rx.statistics().max_buffer_size, float | int)
        from tickwork.transports.zmq import ZmqReceiveStream

        assert isinstance(rx, ZmqReceiveStream)
        stranger = RawPeer.dealer(rx.endpoint)
        try:
            stranger.send(b"\x99garbage")
            with anyio.fail_after(10):
                with pytest.raises(FrameError, match="unknown kind 0x99"):
                    await rx.receive()
                await ch.send.send(7)
                assert await rx.receive() == 7
        finally:
            stranger.close()
