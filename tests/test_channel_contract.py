"""The in-process channel passes the shared conformance kit on both backends."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tickwork import Channel, open_channel
from tickwork.testing import ChannelPair, check_channel


@asynccontextmanager
async def memory_pair(maxsize: float) -> AsyncIterator[ChannelPair]:
    ch: Channel[object] = open_channel(maxsize)
    yield ch.send, ch.recv


@pytest.mark.parametrize("seed", range(5))
async def test_memory_channel_passes_the_contract(seed: int) -> None:
    await check_channel(memory_pair, seed=seed)
