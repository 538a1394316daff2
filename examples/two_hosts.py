"""Two hosts, one ZeroMQ channel with CURVE: the consumer binds, the producer connects.

    python examples/two_hosts.py consumer tcp://0.0.0.0:5555
    python examples/two_hosts.py producer tcp://consumer.internal:5555 --count 100

Each side is an ordinary tickwork process (``tickwork.run``: signals, systemd notify,
``--health``). Keys come from the environment through ``tickwork.hosting.load_key``:
``VAR`` holds a z85 key, or ``VAR_FILE`` names a file holding one (a systemd credential,
a mounted Kubernetes secret). The consumer is the CURVE server and admits only the
producer's public key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import tickwork
from tickwork import Context, daemon
from tickwork.hosting import KeyNotFound, load_key
from tickwork.transports.zmq import (
    CurveClient,
    CurveServer,
    MsgpackSerde,
    open_zmq_receive,
    open_zmq_send,
)

SERDE = MsgpackSerde(int)
WINDOW = 64  # items in flight end to end


@daemon
async def consume(ctx: Context, address: str, curve: CurveServer) -> None:
    """Print every item until the producer closes the channel."""
    async with open_zmq_receive(address, maxsize=WINDOW, serde=SERDE, curve=curve) as rx:
        print(f"listening on {rx.endpoint}", flush=True)
        async for item in rx:
            print(f"got {item}", flush=True)
    print("producer closed the channel", flush=True)


@daemon
async def produce(ctx: Context, address: str, curve: CurveClient, count: int) -> None:
    """Send ``count`` items; leaving the block waits until the consumer has them all."""
    async with open_zmq_send(address, maxsize=WINDOW, serde=SERDE, curve=curve) as tx:
        for n in range(count):
            await tx.send(n)
    print(f"sent {count}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a two-host ZeroMQ channel with CURVE")
    parser.add_argument("role", choices=("consumer", "producer"))
    parser.add_argument("address", help="tcp://host:port (the consumer binds it)")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--health", metavar="HOST:PORT", help="serve /livez, /readyz, /metrics")
    args = parser.parse_args(argv)
    try:
        server_public = load_key("TICKWORK_SERVER_PUBLIC")
        if args.role == "consumer":
            server = CurveServer(
                server_public,
                load_key("TICKWORK_SERVER_SECRET"),
                allowed_clients=[load_key("TICKWORK_CLIENT_PUBLIC")],
            )
            job = consume(args.address, server)
        else:
            client = CurveClient(
                server_public,
                load_key("TICKWORK_CLIENT_PUBLIC"),
                load_key("TICKWORK_CLIENT_SECRET"),
            )
            job = produce(args.address, client, args.count)
    except (KeyNotFound, ValueError) as exc:
        parser.error(str(exc))
    return tickwork.run(job, health=args.health)


if __name__ == "__main__":
    raise SystemExit(main())
