"""Outbox under SimClock: ordering, catch-up, overflow policies, retries, states."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwork import (
    ChannelClosed,
    ChannelInUse,
    Context,
    RestartPolicy,
    SimClock,
    Supervisor,
    WouldBlock,
)
from tickwork.network import (
    Backoff,
    Outbox,
    OutboxChange,
    OutboxFull,
    OutboxState,
    Sequenced,
)

St = OutboxState


class Peer:
    """The far side: it can be down, slow, or fail half-way through a batch.

    It keeps every message it was handed (``raw``) and, like a real receiver, drops
    any sequence number it has already seen (``kept``).
    """

    def __init__(self, clock: SimClock, *, latency: float = 0.0) -> None:
        self.clock = clock
        self.up = True
        self.latency = latency
        self.partial = False
        self.raw: list[Sequenced[Any]] = []
        self.kept: list[Sequenced[Any]] = []
        self.posts: list[tuple[float, list[int], bool]] = []  # (time, seqs, succeeded)
        self._last = 0

    def _take(self, batch: list[Sequenced[Any]]) -> None:
        for message in batch:
            self.raw.append(message)
            if message.seq > self._last:
                self._last = message.seq
                self.kept.append(message)

    async def post(self, batch: list[Sequenced[Any]]) -> None:
        if self.latency:
            await self.clock.sleep(self.latency)
        seqs = [m.seq for m in batch]
        if not self.up:
            if self.partial:
                self._take(batch[: len(batch) // 2])
            self.posts.append((self.clock.now(), seqs, False))
            raise ConnectionError("peer unreachable")
        self._take(batch)
        self.posts.append((self.clock.now(), seqs, True))


class Recorder:
    def __init__(self) -> None:
        self.changes: list[OutboxChange] = []

    async def __call__(self, change: OutboxChange) -> None:
        self.changes.append(change)


def quick_backoff() -> Backoff:
    return Backoff(min=1.0, max=8.0, jitter=0.0)


async def test_steady_state_delivers_in_order_with_sequence_numbers() -> None:
    clock = SimClock()
    peer = Peer(clock)
    rec = Recorder()
    box: Outbox[str] = Outbox(peer.post, on_state=rec)
    assert box.state is None
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        for word in ["a", "b", "c"]:
            await box.send(word)
        await clock.run_until_idle()
        assert [(m.seq, m.item) for m in peer.raw] == [(1, "a"), (2, "b"), (3, "c")]
        await box.aclose()  # the daemon ends by itself once everything is delivered
    assert rec.changes == [
        OutboxChange(0.0, None, St.STARTED),
        OutboxChange(0.0, St.STARTED, St.CONNECTING),
        OutboxChange(0.0, St.CONNECTING, St.CONNECTED),
    ]
    assert box.state_history == rec.changes
    assert (box.accepted, box.delivered, box.dropped, box.pending, box.last_seq) == (3, 3, 0, 0, 3)


async def test_outage_catch_up_then_live_with_exact_states_and_batches() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    rec = Recorder()
    box: Outbox[int] = Outbox(peer.post, batch_size=2, backoff=quick_backoff(), on_state=rec)
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        await box.send(1)
        await clock.advance_to(0.5)
        for i in range(2, 7):
            await box.send(i)
        await clock.advance_to(2)
        peer.up = True
        await clock.advance_to(3)
        assert box.state is St.RECONNECTED
        await box.send(7)
        await clock.run_until_idle()
        await sup.stop()
    assert rec.changes == [
        OutboxChange(0, None, St.STARTED),
        OutboxChange(0, St.STARTED, St.CONNECTING),
        OutboxChange(0, St.CONNECTING, St.CONNECTED),
        OutboxChange(0, St.CONNECTED, St.DISCONNECTED),
        OutboxChange(1, St.DISCONNECTED, St.RECONNECTING),
        OutboxChange(1, St.RECONNECTING, St.DISCONNECTED),
        OutboxChange(3, St.DISCONNECTED, St.RECONNECTING),
        OutboxChange(3, St.RECONNECTING, St.CATCHING_UP),
        OutboxChange(3, St.CATCHING_UP, St.RECONNECTED),
    ]
    assert peer.posts == [
        (0, [1], False),
        (1, [1], False),  # the failed batch is retried first, with the same seq
        (3, [1], True),
        (3, [2, 3], True),  # then the backlog, in batches
        (3, [4, 5], True),
        (3, [6], True),
        (3, [7], True),  # only then the live message
    ]
    assert [m.item for m in peer.raw] == [1, 2, 3, 4, 5, 6, 7]
    assert box.post_failures == 2
    assert isinstance(box.last_error, ConnectionError)


async def test_a_live_message_never_overtakes_the_backlog() -> None:
    clock = SimClock()
    peer = Peer(clock, latency=1.0)
    peer.up = False
    log: list[tuple[OutboxState | None, list[int], int]] = []  # (state, posted seqs, last_seq)

    async def post(batch: list[Sequenced[int]]) -> None:
        await peer.post(batch)
        log.append((None, [m.seq for m in batch], 0))

    async def on_state(change: OutboxChange) -> None:
        log.append((change.new, [], box.last_seq))

    box: Outbox[int] = Outbox(post, batch_size=3, backoff=quick_backoff(), on_state=on_state)

    async def live_producer(ctx: Context) -> None:
        # One message a second, through the outage and the catch-up.
        for i in range(100, 130):
            await box.send(i)
            await ctx.clock.sleep(1)

    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        for i in range(12):
            await box.send(i)
        sup.spawn(live_producer)
        await clock.advance_to(10)
        peer.up = True
        await clock.advance_to(60)
        await sup.stop()
    assert [m.item for m in peer.raw] == [*range(12), *range(100, 130)]
    assert [m.seq for m in peer.raw] == list(range(1, 43))
    start = next(i for i, e in enumerate(log) if e[0] is St.CATCHING_UP)
    end = next(i for i, e in enumerate(log) if e[0] is St.RECONNECTED)
    backlog_end, last_at_end = log[start][2], log[end][2]
    assert last_at_end > backlog_end, "no live message arrived during the catch-up"
    during = [seq for _, seqs, _ in log[start:end] for seq in seqs]
    after = [seq for _, seqs, _ in log[end:] for seq in seqs]
    assert during
    assert max(during) == backlog_end
    assert after[0] == backlog_end + 1


async def test_partial_post_failures_are_resent_and_the_far_side_drops_duplicates() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.partial = True
    peer.up = False
    box: Outbox[int] = Outbox(peer.post, batch_size=4, backoff=quick_backoff())
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        for i in range(10):
            await box.send(i)
        await clock.advance_to(5)
        peer.up = True
        await clock.advance_to(20)
        await sup.stop()
    raw = [m.seq for m in peer.raw]
    assert len(raw) > len(set(raw))  # duplicates really happened on the wire
    assert [m.seq for m in peer.kept] == list(range(1, 11))
    assert [m.item for m in peer.kept] == list(range(10))
    assert box.delivered == 10


async def test_overflow_block_waits_for_room_and_loses_nothing() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    box: Outbox[int] = Outbox(peer.post, maxsize=3, batch_size=1, backoff=quick_backoff())
    done: list[int] = []

    async def producer(ctx: Context) -> None:
        for i in range(8):
            await box.send(i)
            done.append(i)

    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        sup.spawn(producer)
        await clock.run_until_idle()
        assert done == [0, 1, 2, 3]  # 0 in flight, 1-3 queued, 4 waits
        assert box.statistics().waiters_send == 1
        with pytest.raises(WouldBlock):
            box.send_nowait(99)
        peer.up = True
        await clock.advance_to(2)
        assert done == list(range(8))
        await sup.stop()
    assert [m.item for m in peer.raw] == list(range(8))
    assert box.dropped == 0


async def test_overflow_drop_oldest_counts_exactly() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    box: Outbox[int] = Outbox(
        peer.post, maxsize=3, batch_size=1, overflow="drop_oldest", backoff=quick_backoff()
    )
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        await box.send(0)
        await clock.run_until_idle()  # 0 is now in flight (and failing)
        for i in range(1, 10):
            await box.send(i)
        box.send_nowait(10)
        assert box.dropped == 7
        assert box.pending == 4
        peer.up = True
        await clock.advance_to(2)
        await sup.stop()
    assert [(m.seq, m.item) for m in peer.raw] == [(1, 0), (9, 8), (10, 9), (11, 10)]
    assert (box.accepted, box.delivered, box.dropped) == (11, 4, 7)


async def test_overflow_error_rejects_and_counts_exactly() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    box: Outbox[int] = Outbox(
        peer.post, maxsize=3, batch_size=1, overflow="error", backoff=quick_backoff()
    )
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        await box.send(0)
        await clock.run_until_idle()
        for i in range(1, 4):
            await box.send(i)
        with pytest.raises(OutboxFull, match="full"):
            await box.send(4)
        with pytest.raises(OutboxFull):
            box.send_nowait(5)
        assert box.dropped == 2
        peer.up = True
        await clock.advance_to(2)
        await box.send(6)
        await clock.run_until_idle()
        await sup.stop()
    # Rejected messages got no sequence number: no gap for the far side.
    assert [(m.seq, m.item) for m in peer.raw] == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 6)]
    assert (box.accepted, box.dropped) == (5, 2)


async def test_a_second_blocked_sender_is_rejected_and_cancelled_send_adds_nothing() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    box: Outbox[int] = Outbox(peer.post, maxsize=1, batch_size=1, backoff=quick_backoff())
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        await box.send(0)
        await clock.run_until_idle()
        await box.send(1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(box.send, 2)
            await clock.run_until_idle()
            with pytest.raises(ChannelInUse):
                await box.send(3)
            tg.cancel_scope.cancel()
        assert (box.accepted, box.pending) == (2, 2)
        peer.up = True
        await clock.advance_to(2)
        await sup.stop()
    assert [m.item for m in peer.raw] == [0, 1]


async def test_send_after_close_raises_and_close_drains_first() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    box: Outbox[int] = Outbox(peer.post, backoff=quick_backoff())
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        async with box:
            await box.send(1)
            await box.send(2)
        with pytest.raises(ChannelClosed):
            await box.send(3)
        await clock.advance_to(1.5)
        peer.up = True
        await clock.advance_to(3)  # the daemon returns on its own once drained
    assert [m.item for m in peer.raw] == [1, 2]
    assert box.statistics().open_send_streams == 0
    assert box.statistics().open_receive_streams == 0


async def test_max_attempts_fails_and_a_restart_resumes_without_loss() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    rec = Recorder()
    box: Outbox[int] = Outbox(
        peer.post, backoff=quick_backoff(), max_attempts=2, on_state=rec, batch_size=2
    )
    policy = RestartPolicy(base=10.0, cap=10.0)
    async with Supervisor(clock=clock, on_error="restart", restart=policy) as sup:
        sup.add(box)
        for i in range(5):
            await box.send(i)
        await clock.advance_to(11.5)
        assert sup.snapshot()["outbox"].restart_count == 1
        peer.up = True
        await clock.advance_to(30)
        await sup.stop()
    assert [c.new for c in rec.changes][:8] == [
        St.STARTED,
        St.CONNECTING,
        St.CONNECTED,
        St.DISCONNECTED,
        St.RECONNECTING,
        St.DISCONNECTED,
        St.FAILED,
        St.STARTED,
    ]
    assert next(c.time for c in rec.changes if c.new is St.FAILED) == 1.0
    assert [m.item for m in peer.raw] == list(range(5))
    assert [m.seq for m in peer.raw] == [1, 2, 3, 4, 5]


async def test_connect_hook_gates_delivery_and_post_timeout_counts_as_failure() -> None:
    clock = SimClock()
    attempts: list[float] = []
    slow = [True]

    async def connect() -> None:
        attempts.append(clock.now())
        if len(attempts) < 3:
            raise OSError("connection refused")

    got: list[int] = []

    async def post(batch: list[Sequenced[int]]) -> None:
        if slow[0]:
            slow[0] = False
            await clock.sleep(100)
        got.extend(m.item for m in batch)

    rec = Recorder()
    box: Outbox[int] = Outbox(
        post, connect=connect, post_timeout=5.0, backoff=quick_backoff(), on_state=rec
    )
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        await box.send(1)
        await clock.advance_to(40)
        await sup.stop()
    assert attempts[:3] == [0, 1, 3]
    assert [(c.time, c.new) for c in rec.changes] == [
        (0, St.STARTED),
        (0, St.CONNECTING),
        (0, St.DISCONNECTED),
        (1, St.RECONNECTING),
        (1, St.DISCONNECTED),
        (3, St.RECONNECTING),
        (3, St.CATCHING_UP),  # message 1 waited through the failed connects
        (8, St.DISCONNECTED),  # its post hung past post_timeout=5
        (9, St.RECONNECTING),  # the backoff was reset by the connect at t=3
        (9, St.RECONNECTED),  # the retried batch went through
    ]
    assert got == [1]


async def test_a_raising_state_callback_is_logged_and_delivery_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SimClock()
    peer = Peer(clock)

    async def bad_callback(change: OutboxChange) -> None:
        raise RuntimeError("callback bug")

    box: Outbox[int] = Outbox(peer.post, on_state=bad_callback)
    with caplog.at_level(logging.ERROR):
        async with Supervisor(clock=clock) as sup:
            sup.add(box)
            await box.send(1)
            await clock.run_until_idle()
            await sup.stop()
    assert [m.item for m in peer.raw] == [1]
    assert "callback bug" in caplog.text


async def test_stop_with_the_link_down_keeps_messages_pending() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    box: Outbox[int] = Outbox(peer.post, backoff=quick_backoff())
    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        for i in range(3):
            await box.send(i)
        await clock.advance(0.5)
        await sup.stop()
    assert box.pending == 3
    assert box.delivered == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"maxsize": 0}, ValueError, "maxsize"),
        ({"maxsize": 1.5}, TypeError, "maxsize"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"overflow": "drop_newest"}, ValueError, "overflow"),
        ({"backoff": 1.0}, TypeError, "backoff"),
        ({"backoff": Backoff(min=0.0)}, ValueError, "backoff.min"),
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"post_timeout": -1.0}, ValueError, "post_timeout"),
        ({"connect": "nope"}, TypeError, "connect"),
        ({"name": ""}, ValueError, "name"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    async def post(batch: list[Sequenced[int]]) -> None:
        pass

    with pytest.raises(error, match=match):
        Outbox(post, **kwargs)
    with pytest.raises(TypeError, match="post"):
        Outbox("post")  # type: ignore[arg-type]


# -- the property: 10,000 messages across 20 random outages --------------------------

MESSAGES = 10_000
BURSTS = 500  # 20 messages every second of clock time, for 500 s

outage = st.tuples(st.integers(0, 480), st.integers(1, 40))


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    outages=st.lists(outage, min_size=20, max_size=20),
    partial=st.booleans(),
    seed=st.integers(0, 2**16),
)
async def test_exactly_once_in_order_across_20_random_outages(
    outages: list[tuple[int, int]], partial: bool, seed: int
) -> None:
    clock = SimClock()
    peer = Peer(clock, latency=0.05)
    peer.partial = partial
    windows = [(start, start + length) for start, length in outages]

    # One log of state changes (with the last accepted seq) and successful posts.
    log: list[tuple[OutboxState | None, list[int], int]] = []

    async def flaky_post(batch: list[Sequenced[int]]) -> None:
        now = clock.now()
        peer.up = not any(a <= now < b for a, b in windows)
        await peer.post(batch)
        log.append((None, [m.seq for m in batch], 0))

    rec = Recorder()

    async def on_state(change: OutboxChange) -> None:
        log.append((change.new, [], box.last_seq))
        await rec(change)

    box: Outbox[int] = Outbox(
        flaky_post,
        batch_size=50,
        maxsize=MESSAGES,
        backoff=Backoff(min=1.0, max=16.0, seed=seed),
        on_state=on_state,
    )

    async def producer(ctx: Context) -> None:
        per_burst = MESSAGES // BURSTS
        for k in range(BURSTS):
            for i in range(k * per_burst, (k + 1) * per_burst):
                await box.send(i)
            await ctx.clock.sleep(1)
        await box.aclose()

    async with Supervisor(clock=clock) as sup:
        sup.add(box)
        sup.spawn(producer)
        await clock.advance_to(BURSTS + 600)
    # exactly once, in order, nothing dropped: the far side's deduplicated view is exact
    assert [m.item for m in peer.kept] == list(range(MESSAGES))
    assert [m.seq for m in peer.kept] == list(range(1, MESSAGES + 1))
    assert (box.accepted, box.delivered, box.dropped, box.pending) == (MESSAGES, MESSAGES, 0, 0)
    if not partial:
        assert [m.seq for m in peer.raw] == list(range(1, MESSAGES + 1))  # no resend at all
    # No overtaking: every post starts right after the last successfully posted message
    # (a retry starts at the same seq), and carries consecutive sequence numbers.
    next_seq = 1
    for _, seqs, ok in peer.posts:
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert seqs[0] == next_seq
        if ok:
            next_seq = seqs[-1] + 1
    # During each catch-up only messages accepted before the reconnect are posted; the
    # first message accepted after it goes out only once the catch-up is over.
    catch_ups = 0
    boundary: int | None = None
    for state, seqs, last_seq in log:
        if state is St.CATCHING_UP:
            boundary = last_seq
            catch_ups += 1
        elif state is not None:
            boundary = None
        elif boundary is not None:
            assert max(seqs) <= boundary, (seqs, boundary)
    assert catch_ups > 0, "no outage led to a catch-up"
    failed_posts = sum(1 for _, _, ok in peer.posts if not ok)
    assert failed_posts > 0
    assert box.post_failures == failed_posts
    states = [c.new for c in rec.changes]
    assert states.count(St.DISCONNECTED) == states.count(St.RECONNECTING)


async def test_flush_returns_once_everything_sent_before_it_is_posted() -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    outbox: Outbox[int] = Outbox(peer.post, backoff=quick_backoff(), batch_size=10)
    flushed: list[float] = []

    async def flusher() -> None:
        await outbox.flush()
        flushed.append(clock.now())

    async with Supervisor(clock=clock) as sup:
        sup.add(outbox)
        for i in range(25):
            await outbox.send(i)
        async with anyio.create_task_group() as tg:
            tg.start_soon(flusher)
            await clock.advance(3.0)
            assert flushed == []  # still down
            peer.up = True
            await clock.advance(10.0)
        await outbox.send(99)  # after the flush: not waited for
        await outbox.flush()
        await sup.stop()
    assert flushed == [7.0]  # retries at 1, 3 (still down), 7: that one delivers all 25
    assert [m.item for m in peer.kept] == [*range(25), 99]


async def test_flush_with_nothing_pending_returns_at_once() -> None:
    outbox: Outbox[int] = Outbox(Peer(SimClock()).post)
    await outbox.flush()


async def test_undelivered_messages_at_give_up_are_logged_with_count_and_range(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SimClock()
    peer = Peer(clock)
    peer.up = False
    outbox: Outbox[int] = Outbox(peer.post, backoff=quick_backoff(), batch_size=10)
    async with Supervisor(clock=clock) as sup:
        sup.add(outbox)
        for i in range(30):
            await outbox.send(i)
        await clock.advance(2.0)
        await sup.stop(grace=0.0)
    messages = [r.getMessage() for r in caplog.records]
    assert any("delivery ended with 30 messages undelivered (seq 1..30)" in m for m in messages), (
        messages
    )


@pytest.mark.parametrize(("grace", "delivered"), [(1.0, 500), (0.3, 300)])
async def test_stop_during_catch_up_keeps_delivering_within_grace_on_the_clock(
    grace: float, delivered: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's repro: under SimClock stop(grace=0.3) used to return at once."""
    clock = SimClock()
    peer = Peer(clock, latency=0.01)
    peer.up = False
    outbox: Outbox[int] = Outbox(peer.post, backoff=quick_backoff(), batch_size=10)
    async with Supervisor(clock=clock) as sup:
        sup.add(outbox)
        for i in range(500):
            await outbox.send(i)
        await clock.advance(0.5)  # the first post failed at 0.01; retry due at 1.01
        peer.up = True
        await clock.advance(0.52)  # 1.02: the retried batch is posted, catch-up begins
        assert outbox.state is St.CATCHING_UP
        start = clock.now()
        await sup.stop(grace=grace)
        took = clock.now() - start
    assert outbox.delivered == delivered
    assert [m.item for m in peer.kept] == list(range(delivered))
    if delivered == 500:
        assert took == pytest.approx(0.49)  # 49 batches of 0.01 s: returned once done
        assert not any("undelivered" in r.getMessage() for r in caplog.records)
    else:
        assert took == pytest.approx(grace)
        message = f"delivery ended with {500 - delivered} messages undelivered"
        assert any(message in r.getMessage() for r in caplog.records)
