"""tickwork.recipes.lossy: send wrappers that drop instead of blocking."""

from __future__ import annotations

import contextlib

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork import Channel, ChannelClosed, EndOfStream, SendStream, WouldBlock, open_channel
from tickwork.recipes.lossy import CoalesceSend, DropNewestSend, DropOldestSend


def received(ch: Channel[int]) -> list[int]:
    out: list[int] = []
    while True:
        try:
            out.append(ch.recv.receive_nowait())
        except (WouldBlock, EndOfStream):
            return out


def test_the_wrappers_satisfy_the_send_stream_protocol() -> None:
    ch: Channel[int] = open_channel(1)
    streams: list[SendStream[int]] = [
        DropNewestSend(ch.send),
        DropOldestSend(ch.send, ch.recv),
        CoalesceSend(ch.send, ch.recv),
    ]
    assert len(streams) == 3


async def test_drop_newest_keeps_the_buffer_and_counts_the_rest() -> None:
    ch: Channel[int] = open_channel(2)
    lossy = DropNewestSend(ch.send)
    for i in range(5):
        await lossy.send(i)
    lossy.send_nowait(5)
    assert received(ch) == [0, 1]
    assert lossy.dropped == 4


async def test_drop_oldest_keeps_the_newest_items() -> None:
    ch: Channel[int] = open_channel(3)
    lossy = DropOldestSend(ch.send, ch.recv)
    for i in range(10):
        await lossy.send(i)
    assert received(ch) == [7, 8, 9]
    assert lossy.dropped == 7


async def test_coalesce_keeps_only_the_latest_unread_item() -> None:
    for maxsize in (1, 4):
        ch: Channel[int] = open_channel(maxsize)
        lossy = CoalesceSend(ch.send, ch.recv)
        for i in range(6):
            await lossy.send(i)
        assert ch.send.statistics().current_buffer_used == 1
        assert received(ch) == [5]
        assert lossy.dropped == 5
        lossy.send_nowait(6)
        assert received(ch) == [6]
        assert lossy.dropped == 5


@settings(max_examples=60, deadline=None)
@given(
    maxsize=st.integers(1, 4),
    ops=st.lists(st.sampled_from(["send", "recv"]), max_size=40),
    kind=st.sampled_from(["newest", "oldest", "coalesce"]),
)
async def test_dropped_is_exact(maxsize: int, ops: list[str], kind: str) -> None:
    ch: Channel[int] = open_channel(maxsize)
    lossy: DropNewestSend[int] | DropOldestSend[int] | CoalesceSend[int]
    if kind == "newest":
        lossy = DropNewestSend(ch.send)
    elif kind == "oldest":
        lossy = DropOldestSend(ch.send, ch.recv)
    else:
        lossy = CoalesceSend(ch.send, ch.recv)
    sent = 0
    got: list[int] = []
    for op in ops:
        if op == "send":
            with anyio.fail_after(5):
                await lossy.send(sent)
            sent += 1
        else:
            with contextlib.suppress(WouldBlock):
                got.append(ch.recv.receive_nowait())
    got += received(ch)
    assert len(got) + lossy.dropped == sent
    assert got == sorted(got)  # what is delivered stays in order
    assert ch.send.statistics().current_buffer_used == 0


async def test_send_never_blocks_even_on_a_rendezvous_channel() -> None:
    ch: Channel[int] = open_channel(0)
    lossy = DropNewestSend(ch.send)
    with anyio.fail_after(5):
        for i in range(200):
            await lossy.send(i)
    assert lossy.dropped == 200


def test_drop_oldest_and_coalesce_need_a_buffered_channel() -> None:
    ch: Channel[int] = open_channel(0)
    with pytest.raises(ValueError, match="maxsize >= 1"):
        DropOldestSend(ch.send, ch.recv)
    with pytest.raises(ValueError, match="maxsize >= 1"):
        CoalesceSend(ch.send, ch.recv)


async def test_close_and_closed_errors_pass_through() -> None:
    ch: Channel[int] = open_channel(1)
    async with DropOldestSend(ch.send, ch.recv) as lossy:
        await lossy.send(1)
        assert lossy.statistics().current_buffer_used == 1
    assert ch.recv.receive_nowait() == 1
    with pytest.raises(EndOfStream):
        ch.recv.receive_nowait()

    gone: Channel[int] = open_channel(1)
    await gone.recv.aclose()
    for wrapper in (DropNewestSend(gone.send),):
        with pytest.raises(ChannelClosed):
            await wrapper.send(1)
        assert wrapper.dropped == 0
