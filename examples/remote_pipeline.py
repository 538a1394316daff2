"""A producer and a consumer daemon in two processes, joined by a ZeroMQ channel.

Run it: ``python examples/remote_pipeline.py [--count N] [--backend trio]``.

The consumer process binds a receiver on ``tcp://127.0.0.1`` (loopback only; the OS
picks the port), starts the producer process with the address, and runs its consumer
daemon under its own Supervisor. The producer process runs its producer daemon under
another Supervisor. Neither daemon knows the channel is remote: the producer gets a
``SendStream``, the consumer a ``ReceiveStream``, exactly as with ``open_channel()``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import anyio
import msgspec

from tickwork import Context, ReceiveStream, SendStream, Supervisor, daemon
from tickwork.transports.zmq import MsgpackSerde, open_zmq_receive, open_zmq_send


class Reading(msgspec.Struct, frozen=True):
    """One sensor reading; the receiver validates every message against this type."""

    seq: int
    sensor: str
    value: float


SERDE: MsgpackSerde[Reading] = MsgpackSerde(Reading)
PERIOD = 0.001  # seconds between readings, on the daemon's clock


@daemon
async def producer(ctx: Context, tx: SendStream[Reading], count: int) -> None:
    """Send ``count`` readings, one per PERIOD, then close (the consumer sees the end)."""
    async with tx:
        seq = 0
        async for _ in ctx.clock.every(PERIOD, first="now"):
            await tx.send(Reading(seq, "thermo-1", 20.0 + (seq % 10) / 10))
            seq += 1
            if seq == count:
                break
    ctx.logger.info("sent %d readings", count)


@dataclass
class Summary:
    count: int = 0
    total: float = 0.0
    seqs: list[int] = field(default_factory=list[int])


@daemon
async def consumer(ctx: Context, rx: ReceiveStream[Reading], summary: Summary) -> None:
    """Receive readings until the producer closes."""
    async for reading in rx:
        summary.count += 1
        summary.total += reading.value
        summary.seqs.append(reading.seq)


@daemon
async def launch_producer(ctx: Context, endpoint: str, count: int, backend: str) -> None:
    """Run the producer process and wait for it (it ends when it has sent everything)."""
    cmd = [sys.executable, __file__, "--produce", endpoint, "--count", str(count)]
    result = await anyio.run_process([*cmd, "--backend", backend], check=False, stdout=None)
    if result.returncode != 0:
        raise RuntimeError(f"the producer process exited with {result.returncode}")


async def consumer_process(count: int, backend: str) -> Summary:
    summary = Summary()
    async with (
        open_zmq_receive("tcp://127.0.0.1:0", maxsize=64, serde=SERDE) as rx,
        Supervisor() as sup,
    ):
        sup.add(consumer(rx, summary))
        sup.add(launch_producer(rx.endpoint, count, backend))
    return summary


async def producer_process(endpoint: str, count: int) -> None:
    async with open_zmq_send(endpoint, maxsize=64, serde=SERDE) as tx, Supervisor() as sup:
        sup.add(producer(tx, count))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--produce", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        anyio.run(producer_process, args.produce, args.count, backend=args.backend)
        return 0
    summary = anyio.run(consumer_process, args.count, args.backend, backend=args.backend)
    in_order = summary.seqs == list(range(args.count))
    print(
        f"consumer: {summary.count} readings, mean {summary.total / max(summary.count, 1):.2f}, "
        f"{'in order, none lost' if in_order else 'OUT OF ORDER OR LOST'}"
    )
    return 0 if in_order else 1


if __name__ == "__main__":
    sys.exit(main())
