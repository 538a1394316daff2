"""The ZeroMQ endpoints pass the shared channel conformance kit, over tcp and ipc."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tickwork.testing import ChannelPair, MakePair, check_channel
from tickwork.transports.zmq import open_zmq_receive, open_zmq_send


def make_pair_factory(address: str, *, sender_binds: bool = False) -> MakePair:
    @asynccontextmanager
    async def make_pair(maxsize: float) -> AsyncIterator[ChannelPair]:
        if sender_binds:
            async with (
                open_zmq_send(address, bind=True, maxsize=maxsize) as tx,
                open_zmq_receive(tx.endpoint, bind=False, maxsize=maxsize) as rx,
            ):
                await tx.wait_peer()
                await rx.wait_peer()
                yield tx, rx
        else:
            async with (
                open_zmq_receive(address, bind=True, maxsize=maxsize) as rx,
                open_zmq_send(rx.endpoint, maxsize=maxsize) as tx,
            ):
                await tx.wait_peer()
                await rx.wait_peer()
                yield tx, rx

    return make_pair


async def test_tcp_receiver_binds_passes_the_contract() -> None:
    await check_channel(make_pair_factory("tcp://127.0.0.1:0"), remote=True)


async def test_tcp_sender_binds_passes_the_contract() -> None:
    await check_channel(make_pair_factory("tcp://127.0.0.1:0", sender_binds=True), remote=True)


@pytest.mark.parametrize("seed", [1])
async def test_ipc_passes_the_contract(ipc_dir: pathlib.Path, seed: int) -> None:
    await check_channel(make_pair_factory(f"ipc://{ipc_dir}/c.sock"), remote=True, seed=seed)


async def test_memory_link_passes_the_contract() -> None:
    # The in-process stand-in for the socket (memory://) runs the same protocol.
    await check_channel(make_pair_factory("memory://contract"), remote=True)
