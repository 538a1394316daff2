"""Helpers for the cluster tests: child targets on the path, and waiting on log records."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import anyio
import pytest

from tickwork.cluster import ProcessDaemon

HERE = Path(__file__).parent
ENV = {"PYTHONPATH": str(HERE)}

Predicate = Callable[[logging.LogRecord], bool]


class Records(logging.Handler):
    """Collects every record and lets a test wait (bounded) for one that matches."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._waiters: list[tuple[Predicate, anyio.Event]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        for predicate, event in self._waiters:
            if predicate(record):
                event.set()

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> logging.LogRecord:
        for record in self.records:
            if predicate(record):
                return record
        event = anyio.Event()
        entry = (predicate, event)
        self._waiters.append(entry)
        try:
            with anyio.fail_after(timeout):
                await event.wait()
        finally:
            self._waiters.remove(entry)
        return next(r for r in reversed(self.records) if predicate(r))

    def messages(self, name: str | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if name is None or r.name == name]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


@pytest.fixture
def backend(anyio_backend: Any) -> str:
    """The backend the test runs on; its children run on the same one."""
    name = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
    return name.split("+")[0]


HEARTBEAT: Final = 0.1
"""Heartbeats often enough that health and liveness tests see one within moments."""
SILENCE: Final = 5.0
"""Default child_timeout / parent_timeout in tests: far above any stall a loaded
two-core machine causes; tests of silence itself pass their own, shorter one."""
STOP_TIMEOUT: Final = 0.5
"""Bounds a cooperative stop: idle children return within milliseconds."""
TERM_TIMEOUT: Final = 0.3
"""Bounds SIGTERM: the Python default handler exits at once."""


def make(target: str, *args: Any, backend: str, **kwargs: Any) -> ProcessDaemon:
    """A ProcessDaemon with test-sized bounds, running ``target`` from targets.py."""
    options: dict[str, Any] = {
        "env": ENV,
        "backend": backend,
        "heartbeat_interval": HEARTBEAT,
        "child_timeout": SILENCE,
        "parent_timeout": SILENCE,
        "stop_timeout": STOP_TIMEOUT,
        "term_timeout": TERM_TIMEOUT,
    }
    options.update(kwargs)
    return ProcessDaemon(f"targets:{target}", *args, **options)


def child_pids() -> set[int]:
    """Live child processes of this process (every thread's)."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            text = Path(f"/proc/self/task/{task}/children").read_text()
        except FileNotFoundError:
            continue
        found.update(int(pid) for pid in text.split())
    return found


def open_fds() -> int:
    """Open file descriptors of this process (pipes, sockets, files, pidfds...)."""
    return len(os.listdir("/proc/self/fd"))


def open_sockets() -> int:
    """Of those, the sockets (ZeroMQ's ipc and its internal signalling ones included)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


@contextlib.contextmanager
def own_tempdir() -> Iterator[Path]:
    """Make ProcessDaemons create their private directories in a fresh, short base.

    Other test runs on the machine share /tmp, so leftovers are counted only here
    (short, because an ipc path must fit in 107 bytes).
    """
    base = Path(tempfile.mkdtemp(prefix="tw-"))
    old, tempfile.tempdir = tempfile.tempdir, str(base)
    try:
        yield base
    finally:
        tempfile.tempdir = old
        shutil.rmtree(base, ignore_errors=True)


def process_state(pid: int) -> str | None:
    """The state letter in /proc (Z: a zombie nobody reaped yet); None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None
