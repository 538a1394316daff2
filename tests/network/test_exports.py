"""tickwork.network's public surface: sorted complete __all__, tidy names, final classes."""

from __future__ import annotations

import inspect
from typing import Protocol

import tickwork.network

OPEN_FOR_SUBCLASSING = {"NetworkDaemon"}


def test_all_is_sorted_and_complete() -> None:
    names = list(tickwork.network.__all__)
    assert names == sorted(names)
    public = {
        name
        for name, value in vars(tickwork.network).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(names)


def test_objects_report_the_package_as_their_module() -> None:
    for name in tickwork.network.__all__:
        obj = getattr(tickwork.network, name)
        if inspect.isclass(obj):
            assert obj.__module__ == "tickwork.network", name


def test_classes_are_final_unless_meant_for_subclassing() -> None:
    for name in tickwork.network.__all__:
        obj = getattr(tickwork.network, name)
        if not inspect.isclass(obj) or name in OPEN_FOR_SUBCLASSING:
            continue
        if issubclass(obj, BaseException) or Protocol in obj.__mro__:
            continue
        assert getattr(obj, "__final__", False), f"tickwork.network.{name} should be @final"


def test_network_daemon_is_a_daemon_and_outbox_is_a_daemon() -> None:
    assert issubclass(tickwork.network.NetworkDaemon, tickwork.Daemon)
    assert issubclass(tickwork.network.Outbox, tickwork.Daemon)
    assert issubclass(tickwork.network.HealthTicker, tickwork.Daemon)
    assert issubclass(tickwork.network.OutboxFull, tickwork.TickworkError)
    assert issubclass(tickwork.network.OutboxFailed, tickwork.TickworkError)


def test_outbox_is_a_send_stream_for_the_type_checker() -> None:
    async def post(batch: list[tickwork.network.Sequenced[int]]) -> None:
        pass

    stream: tickwork.SendStream[int] = tickwork.network.Outbox(post)  # pyright checks this line
    assert stream.statistics().max_buffer_size == 10_000
