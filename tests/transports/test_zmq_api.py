"""The public surface of tickwork.transports.zmq: exports, argument checks, the missing extra."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing

import anyio
import anyio.abc
import pytest

import tickwork.transports.zmq as tz
from tickwork import ChannelInUse, ReceiveStream, SendStream


def test_all_is_sorted_complete_and_public() -> None:
    assert tz.__all__ == sorted(tz.__all__)
    public = {
        name
        for name, value in vars(tz).items()
        if name.isidentifier()
        and not name.startswith("_")
        and not inspect.ismodule(value)
        and value is not typing.TYPE_CHECKING
        and name != "annotations"  # from __future__
    }
    assert public == set(tz.__all__)
    for name in tz.__all__:
        obj = getattr(tz, name)
        if inspect.isclass(obj):
            assert obj.__module__ == "tickwork.transports.zmq", name
            if name != "Serde":
                assert getattr(obj, "__final__", False), f"{name} should be @final"


def test_endpoints_have_no_public_constructor() -> None:
    with pytest.raises(TypeError, match="open_zmq_send"):
        tz.ZmqSendStream()
    with pytest.raises(TypeError, match="open_zmq_receive"):
        tz.ZmqReceiveStream()


async def test_endpoints_satisfy_the_core_protocols() -> None:
    serde: tz.MsgpackSerde[int] = tz.MsgpackSerde(int)
    async with tz.open_zmq_channel("tcp://127.0.0.1:0", maxsize=1, serde=serde) as ch:
        tx: SendStream[int] = ch.send
        rx: ReceiveStream[int] = ch.recv
        await tx.send(5)
        assert await rx.receive() == 5
        typing.assert_type(serde.decode(serde.encode(1)), int)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"maxsize": -1}, ValueError),
        ({"maxsize": 1.5}, ValueError),
        ({"maxsize": "8"}, TypeError),
        ({"linger_ms": -5}, ValueError),
        ({"heartbeat_interval": 0}, ValueError),
        ({"give_up_after": float("nan")}, ValueError),
        ({"curve": "secret"}, TypeError),
    ],
)
def test_bad_arguments_fail_at_once(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        tz.open_zmq_send("tcp://127.0.0.1:0", **kwargs)  # type: ignore[call-overload]


def test_bad_address_names_it() -> None:
    with pytest.raises(ValueError, match="ZeroMQ endpoint"):
        tz.open_zmq_receive("localhost:5555")


async def test_address_in_use_is_a_transport_error() -> None:
    async with tz.open_zmq_receive("tcp://127.0.0.1:0") as rx:
        with pytest.raises(tz.TransportError, match="cannot bind to"):
            async with tz.open_zmq_receive(rx.endpoint):
                pass


def test_a_missing_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['zmq'] = None\n"
        "try:\n    import tickwork.transports.zmq\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert "pip install tickwork[zmq]" in out


def test_curve_keys_are_checked_and_secrets_not_printed() -> None:
    public, secret = tz.curve_keypair()
    server = tz.CurveServer(public, secret, allowed_clients=[public])
    assert secret.decode() not in repr(server)
    with pytest.raises(ValueError, match="z85"):
        tz.CurveClient(b"short", public, secret)


async def test_wait_acked_returns_once_the_receiver_came_back_for_more() -> None:
    async with (
        tz.open_zmq_receive("memory://acked", maxsize=4) as rx,
        tz.open_zmq_send("memory://acked", maxsize=4) as tx,
    ):
        with anyio.fail_after(5):
            await tx.wait_acked()  # nothing in flight: at once
            await tx.send(1)
            await tx.send(2)
            acked = anyio.Event()

            async def confirm(*, task_status: anyio.abc.TaskStatus[None]) -> None:
                task_status.started()  # the starter resumes once this waits below
                await tx.wait_acked()
                acked.set()

            async with anyio.create_task_group() as tg:
                await tg.start(confirm)
                assert await rx.receive() == 1
                assert await rx.receive() == 2
                assert not acked.is_set()  # 2 is still held by the application
                with pytest.raises(ChannelInUse):
                    await tx.wait_acked()  # the one waiting is confirm()
                tg.start_soon(rx.receive)  # coming back for more acknowledges 2
                await acked.wait()
                assert tx.transport_statistics().in_flight == 0
                await tx.send(3)
        await rx.aclose()
        with anyio.fail_after(5):
            await tx.wait_acked()  # the receiver closed: nothing to wait for
