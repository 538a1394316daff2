"""Stateful test of the sans-I/O ZeroMQ protocol cores, with no sockets and no event loop.

A hypothesis ``RuleBasedStateMachine`` holds one ``SenderCore`` and one ``ReceiverCore``
and a model network between them that it controls. Rules are the application's calls
(send, flush, receive, wait, close), the network's faults (deliver any frame the model
allows, drop, duplicate, reorder, disconnect, reconnect) and process restarts (the
receiver with and without ``resume=``, the sender as a new session). Time is an
integer the machine advances on each heartbeat.

The network is ZeroMQ's, made worse: frames of one connection may be dropped,
duplicated and reordered (ZeroMQ never does that; the protocol tolerates it). Across
connections it keeps what ZeroMQ guarantees: a process's frames on an older
connection reach the other side before its frames on a newer one, a connecting end
(DEALER) reads its one pipe in order, and a binding end (ROUTER) cannot route to a
connection that is gone. A process that restarts loses what was travelling to it.

Checked after every step and at the end:

* the application receives each item of a sender session at most once and in order;
  the one exception is a receiver restart without ``resume=``, after which at most
  ``window + 1`` items it had already been given come again (docs/zmq.md, Limits);
* the end of stream arrives only after every item of the session that closed;
* credit holds: no DATA frame carries a sequence number past what the receiving
  application has taken plus the window, and the receiver never buffers more than the
  window;
* neither core rejects a frame the other produced, and neither fails;
* at the end, with the network healed, everything the live sender sent arrives.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tickwork.transports.zmq._core import CoreBase, Liveness, Peer
from tickwork.transports.zmq._errors import FrameError
from tickwork.transports.zmq._frames import ACK, DATA, FIN, PING, unpack_data
from tickwork.transports.zmq._receiver_core import Marker, ReceiverCore
from tickwork.transports.zmq._sender_core import SenderCore
from tickwork.transports.zmq._stats import Cursor

PEER_TIMEOUT: Final = 3
"""Heartbeats of silence before a peer counts as silent (liveness is not under test)."""

HEAL_ROUNDS: Final = 200
"""Rounds of deliver-everything, receive-everything, heartbeat that the final check
allows for the healed network to deliver what is owed; it needs a handful."""

CALM_PASSES: Final = 8
CALM_FRAMES: Final = 64
"""A calm moment: up to this many passes of up to this many frames each way."""

FAST_EXAMPLES: Final = 30
SLOW_EXAMPLES: Final = 5_000
STEPS: Final = 100

RARE: Final = st.integers(0, 15)
SOMETIMES: Final = st.integers(0, 3)
"""Faults fire when these draw 0: often enough to matter, rarely enough that a run
also gets far (a close or a restart in every other step would end most runs early)."""


@dataclass
class Travelling:
    """A frame on the model network."""

    source: int  # the incarnation (process) that sent it
    rid: bytes | None  # the connection it travels on; None: queued until one is up
    frame: bytes


@dataclass
class Process:
    """One end: its core, whether it binds, and the frames travelling to it."""

    core: CoreBase
    bound: bool
    incarnation: int
    inbox: list[Travelling] = field(default_factory=list[Travelling])


REORDERABLE: Final = frozenset({DATA, FIN, ACK, PING})
"""Kinds the network may reorder within a connection: their sequence numbers and
monotonic counters make order unnecessary. Greetings (probe, HELLO, WELCOME) and the
close frames keep their place, since each handshake reads the connection's order
(ZeroMQ keeps all of it)."""


def _is_barrier(frame: bytes) -> bool:
    return not frame or frame[0] not in REORDERABLE


def _item(session: int, n: int) -> bytes:
    return f"{session}:{n}".encode()


def _parse(payload: bytes) -> tuple[int, int]:
    session, n = payload.decode().split(":")
    return int(session), int(n)


def _describe(peer: Peer) -> str:
    return f"model peer {peer!r}"


class CoreMachine(RuleBasedStateMachine):
    """A sender core and a receiver core joined by a network the machine controls."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.ids = itertools.count(1)
        self.rid: bytes | None = None
        self.tx_window = 1
        self.rx_window = 1
        self.rx_binds = True
        # The sending application: items sent per sender session; sessions that closed.
        self.sent: dict[int, int] = {}
        self.closed_sessions: set[int] = set()
        # The receiving application: the last item it got, restarts since then, EOF.
        self.last: tuple[int, int] | None = None
        self.fresh_restart = False  # a receiver restart without resume since `last`
        self.eof = False
        self.rx_closed = False
        self.parked = False
        self.redelivered_max = 0
        self.tx: Process
        self.rx: Process

    # -- set-up ----------------------------------------------------------------------

    @initialize(
        tx_window=st.sampled_from([0, 1, 2, 3, 8]),
        rx_window=st.sampled_from([0, 1, 2, 3, 8]),
        rx_binds=st.booleans(),
    )
    def setup(self, tx_window: int, rx_window: int, rx_binds: bool) -> None:
        self.tx_window, self.rx_window, self.rx_binds = tx_window, rx_window, rx_binds
        self.tx = self._new_sender()
        self.rx = self._new_receiver(resume=None)
        self._connect()

    def _live(self) -> Liveness:
        return Liveness(self.now, PEER_TIMEOUT, None, None)

    def _new_sender(self) -> Process:
        session = next(self.ids)
        self.sent[session] = 0
        core = SenderCore(
            bound=not self.rx_binds,
            live=self._live(),
            endpoint="model://jobs",
            window=self.tx_window,
            unbounded=False,
            session=session,
        )
        return Process(core, not self.rx_binds, next(self.ids))

    def _new_receiver(self, resume: Cursor | None) -> Process:
        core = ReceiverCore(
            bound=self.rx_binds,
            live=self._live(),
            window=self.rx_window,
            session=next(self.ids),
            resume=resume,
            describe=_describe,
        )
        return Process(core, self.rx_binds, next(self.ids))

    @property
    def s(self) -> SenderCore:
        assert isinstance(self.tx.core, SenderCore)
        return self.tx.core

    @property
    def r(self) -> ReceiverCore:
        assert isinstance(self.rx.core, ReceiverCore)
        return self.rx.core

    def _window(self) -> int:
        """Items the receiving application may have outstanding (a rendezvous: one)."""
        return max(1, min(self.tx_window, self.rx_window))

    def _other(self, proc: Process) -> Process:
        return self.rx if proc is self.tx else self.tx

    # -- the link (what Link._settle does, over the model network) -------------------

    def _route(self, proc: Process, peer: Peer, frame: bytes) -> bool:
        if proc is self.tx and frame and frame[0] == DATA:
            self._check_credit(frame)
        if proc.bound and (self.rid is None or peer != self.rid):
            return False  # ROUTER_MANDATORY: that connection is gone
        self._other(proc).inbox.append(Travelling(proc.incarnation, self.rid, frame))
        return True

    def _settle(self, proc: Process) -> None:
        core = proc.core
        while core.out:
            out, core.out = core.out, []
            stop = False
            for peer, frame in out:
                if stop or not self._route(proc, peer, frame):
                    stop = core.on_send_failed(peer, frame) or stop
            core.after_flush()
        core.changed = False

    def _settle_both(self) -> None:
        self._settle(self.tx)
        self._settle(self.rx)

    def _deliverable(self, proc: Process) -> list[int]:
        """Indexes of frames the model network may hand to ``proc`` next."""
        found: list[int] = []
        inbox = proc.inbox
        for i, t in enumerate(inbox):
            if t.rid is None:
                continue
            earlier = inbox[:i]
            if any(e.source == t.source and e.rid != t.rid for e in earlier):
                continue  # one process's older connection first
            same = [e for e in earlier if e.source == t.source]
            if same and (_is_barrier(t.frame) or any(_is_barrier(e.frame) for e in same)):
                continue  # greetings keep their place in their connection
            if not proc.bound and any(e.source != t.source for e in earlier):
                continue  # a DEALER reads its one pipe in order
            found.append(i)
        return found

    def _deliver(self, proc: Process, index: int) -> None:
        t = proc.inbox.pop(index)
        peer = t.rid if proc.bound else None
        proc.core.on_frames([(peer, t.frame)], self.now)
        self._settle(proc)

    # -- checks --------------------------------------------------------------------------

    def _check_credit(self, frame: bytes) -> None:
        epoch, first, payloads = unpack_data(frame)
        r = self.r
        if epoch == r.session and r.sender_session == self.s.session:
            last = first + len(payloads) - 1
            assert last <= r.delivered + self._window(), (
                f"DATA up to seq {last} while the receiver has delivered {r.delivered} "
                f"with window {self._window()}"
            )

    def _on_item(self, payload: bytes) -> None:
        session, n = _parse(payload)
        assert n <= self.sent.get(session, 0), f"item {payload!r} was never sent"
        last = self.last
        if last is None or session != last[0]:
            assert last is None or session > last[0], (
                f"item {payload!r} of an older sender session after {last}"
            )
            assert n == 1, f"session {session} starts at item {n}: earlier items lost"
        elif self.fresh_restart:
            again = last[1] + 1 - n
            assert 0 <= again <= self._window() + 1, (
                f"after a restart without resume, item {n} follows {last[1]}: "
                f"{again} items again, more than the window {self._window()} + 1"
            )
            self.redelivered_max = max(self.redelivered_max, again)
        else:
            assert n == last[1] + 1, f"item {n} follows {last[1]}: lost or duplicated"
        self.last = (session, n)
        self.fresh_restart = False

    def _on_eof(self, seq: int) -> None:
        last = self.last
        owner = [s for s in self.closed_sessions if self.sent[s] == seq - 1]
        assert owner, f"end of stream at seq {seq} matches no closed sender session"
        assert seq == 1 or any(last == (s, seq - 1) for s in owner), (
            f"end of stream after {last}, before the last item {seq - 1}"
        )
        self.eof = True

    @invariant()
    def nothing_rejected_nothing_failed(self) -> None:
        if not hasattr(self, "tx"):
            return
        for core in (self.s, self.r):
            assert core.rejected == 0, f"{type(core).__name__} rejected a frame"
            assert core.failure is None, core.failure
        assert not any(isinstance(p, FrameError) for _, p in self.r.buffer)

    @invariant()
    def receiver_buffers_at_most_the_window(self) -> None:
        if not hasattr(self, "rx"):
            return
        r = self.r
        data = sum(1 for seq, p in r.buffer if seq and p is not Marker.FIN)
        assert data - r.old_items <= self._window(), (data, r.old_items)

    # -- the sending application --------------------------------------------------------

    def _can_send(self) -> bool:
        s = self.s
        return s.has_credit() and s.closed_reason() is None and s.failure is None

    @precondition(lambda self: self._can_send())
    @rule(count=st.integers(1, 8), flush=st.booleans())
    def send(self, count: int, flush: bool) -> None:
        s = self.s
        for _ in range(count):
            if not self._can_send():
                break
            self.sent[s.session] += 1
            s.accept(_item(s.session, self.sent[s.session]))
        if flush:
            self.flush()

    @rule()
    def flush(self) -> None:
        """What the endpoint's flusher does once the producer yields."""
        self.s.transmit()
        self._settle(self.tx)

    @precondition(lambda self: not self.s.closed)
    @rule(odds=RARE)
    def close_sender(self, odds: int) -> None:
        if odds:
            return
        if self.s.closed_reason() is None:
            self.closed_sessions.add(self.s.session)
        self.s.close()
        self._settle(self.tx)

    # -- the receiving application ------------------------------------------------------

    @precondition(lambda self: not (self.eof or self.rx_closed))
    @rule()
    def receive(self) -> None:
        """``receive_nowait()``: take the next entry, if any."""
        r = self.r
        if self.parked:
            r.unpark()
            self.parked = False
        entry = r.take()
        self._settle(self.rx)
        if entry is None:
            return
        seq, payload = entry
        assert not isinstance(payload, FrameError), payload
        if payload is Marker.FIN:
            self._on_eof(seq)
        else:
            self._on_item(payload)

    @precondition(lambda self: not (self.eof or self.rx_closed or self.parked))
    @rule()
    def wait(self) -> None:
        """A ``receive()`` that found nothing parks (and grants credit while it waits)."""
        if self.r.buffer:
            return
        self.parked = True
        self.r.park()
        self._settle(self.rx)

    @precondition(lambda self: self.parked)
    @rule()
    def cancel_wait(self) -> None:
        self.parked = False
        self.r.unpark()

    @precondition(lambda self: not self.rx_closed)
    @rule(odds=RARE)
    def close_receiver(self, odds: int) -> None:
        if odds:
            return
        self.rx_closed = True
        self.parked = False
        self.r.close()
        self._settle(self.rx)

    # -- the network ----------------------------------------------------------------------

    def _pick(self, proc: Process, choice: int) -> int | None:
        options = self._deliverable(proc)
        return options[choice % len(options)] if options else None

    @rule(to_receiver=st.booleans(), choice=st.integers(0, 7))
    def deliver(self, to_receiver: bool, choice: int) -> None:
        proc = self.rx if to_receiver else self.tx
        index = self._pick(proc, choice)
        if index is not None:
            self._deliver(proc, index)

    @rule(count=st.integers(1, 16))
    def deliver_in_order(self, count: int) -> None:
        """A healthy network for a while: both directions, oldest frame first."""
        for _ in range(count):
            moved = False
            for proc in (self.rx, self.tx):
                options = self._deliverable(proc)
                if options:
                    self._deliver(proc, options[0])
                    moved = True
            if not moved:
                return

    @rule(to_receiver=st.booleans(), choice=st.integers(0, 7), odds=SOMETIMES)
    def drop(self, to_receiver: bool, choice: int, odds: int) -> None:
        if odds:
            return
        proc = self.rx if to_receiver else self.tx
        index = self._pick(proc, choice)
        if index is not None:
            del proc.inbox[index]

    @rule(to_receiver=st.booleans(), choice=st.integers(0, 7), odds=SOMETIMES)
    def duplicate(self, to_receiver: bool, choice: int, odds: int) -> None:
        if odds:
            return
        proc = self.rx if to_receiver else self.tx
        index = self._pick(proc, choice)
        if index is not None:
            t = proc.inbox[index]
            proc.inbox.append(Travelling(t.source, t.rid, t.frame))

    @precondition(lambda self: self.rid is not None)
    @rule(odds=SOMETIMES)
    def disconnect(self, odds: int) -> None:
        if odds:
            return
        self.rid = None

    @precondition(lambda self: self.rid is None)
    @rule()
    def reconnect(self) -> None:
        self._connect()

    def _connect(self) -> None:
        self.rid = next(self.ids).to_bytes(4, "big")
        for proc in (self.tx, self.rx):
            for t in self._other(proc).inbox:
                if t.rid is None and t.source == proc.incarnation:
                    t.rid = self.rid  # a DEALER's queued frames leave on the new connection
        connecting = self.rx if self.tx.bound else self.tx
        connecting.core.on_connected()
        self._settle(connecting)

    @precondition(lambda self: self.s.blocked and self.rid is not None)
    @rule()
    def writable(self) -> None:
        """The socket takes frames again: the pump retries what it refused."""
        self.s.retry()
        self._settle(self.tx)

    @rule()
    def tick(self) -> None:
        self.now += 1
        for proc in (self.tx, self.rx):
            proc.core.on_tick(self.now)
        self._settle_both()

    @rule(count=st.integers(0, 8))
    def calm(self, count: int) -> None:
        """A calm moment: the sender sends, everything travelling arrives, the receiver
        keeps up."""
        if self._can_send():
            self.send(count, flush=True)
        self._heal_round(tick=False)

    # -- restarts -------------------------------------------------------------------------

    def _kill(self, proc: Process) -> None:
        """The process dies: what travels to it is lost, so is what it had not sent yet."""
        other = self._other(proc)
        other.inbox[:] = [
            t for t in other.inbox if not (t.rid is None and t.source == proc.incarnation)
        ]
        self.rid = None

    @precondition(lambda self: not self.rx_closed)
    @rule(resume=st.booleans(), odds=SOMETIMES)
    def restart_receiver(self, resume: bool, odds: int) -> None:
        if odds:
            return
        cursor = self.r.cursor
        self._kill(self.rx)
        self.rx = self._new_receiver(resume=cursor if resume else None)
        self.parked = False
        if not resume:
            self.fresh_restart = True

    @rule(odds=RARE)
    def restart_sender(self, odds: int) -> None:
        if odds:
            return
        self._kill(self.tx)
        self.tx = self._new_sender()

    # -- the end: heal the network, everything owed must arrive ---------------------------

    def _heal_round(self, *, tick: bool = True) -> None:
        for _ in range(CALM_PASSES):
            self.deliver_in_order(CALM_FRAMES)
            self.flush()
            while not (self.eof or self.rx_closed) and self.r.buffer:
                self.receive()
            if not (self.eof or self.rx_closed or self.parked):
                self.wait()
            if not (self._deliverable(self.tx) or self._deliverable(self.rx)):
                break
        if tick:
            self.tick()

    def _owed(self) -> bool:
        s = self.s
        if self.eof or self.rx_closed or s.peer_closed:
            return False
        if s.session in self.closed_sessions:
            return True  # the end of stream is owed
        count = self.sent[s.session]
        return count > 0 and self.last != (s.session, count)

    def teardown(self) -> None:
        if not hasattr(self, "tx"):
            return
        # ZeroMQ loses frames only when a connection breaks, and then it reconnects: so
        # healing starts with a fresh connection (the drop rule is harsher than that).
        self.rid = None
        self._connect()
        for _ in range(HEAL_ROUNDS):
            if not self._owed():
                break
            self._heal_round()
        assert not self._owed(), (
            f"after healing, sender session {self.s.session} sent {self.sent[self.s.session]} "
            f"items, the application's last is {self.last}, eof={self.eof}"
        )


_BASE = settings(
    deadline=None,
    stateful_step_count=STEPS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _run(examples: int) -> None:
    run_state_machine_as_test(CoreMachine, settings=settings(_BASE, max_examples=examples))


def test_cores_keep_exactly_once_order_and_credit_under_faults() -> None:
    _run(FAST_EXAMPLES)


@pytest.mark.slow
def test_cores_keep_exactly_once_order_and_credit_under_faults_long() -> None:
    """The dedicated profile: many more machines, same checks."""
    _run(SLOW_EXAMPLES)


def _replay(steps: Callable[[CoreMachine], None]) -> None:
    machine = CoreMachine()
    steps(machine)
    machine.nothing_rejected_nothing_failed()
    machine.receiver_buffers_at_most_the_window()
    machine.teardown()


def test_an_earlier_senders_end_of_stream_leaves_the_new_senders_ack_well_formed() -> None:
    """Found by the machine: the old FIN moved ``done`` past ``delivered`` (a bad ACK)."""

    def steps(m: CoreMachine) -> None:
        m.setup(tx_window=0, rx_window=0, rx_binds=False)
        m.calm(count=0)
        m.close_sender(odds=0)
        m.restart_sender(odds=0)
        m.reconnect()
        m.calm(count=0)

    _replay(steps)


def test_a_reconnected_receiver_sends_a_new_sender_no_ack_before_its_welcome() -> None:
    """Found by the machine: an ACK about the old sender's stream granted the new one
    credit (and could have acknowledged items it never delivered)."""

    def steps(m: CoreMachine) -> None:
        m.setup(tx_window=1, rx_window=1, rx_binds=False)
        m.deliver(choice=0, to_receiver=False)
        m.calm(count=1)
        m.restart_sender(odds=0)
        m.reconnect()
        m.tick()
        m.deliver(choice=0, to_receiver=False)
        m.deliver_in_order(count=1)
        m.calm(count=2)

    _replay(steps)
