"""Fixtures for the ZeroMQ transport tests: fresh addresses, a skip without the extra."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

pytest.importorskip("zmq", reason="the zmq extra is not installed (pip install tickwork[zmq])")
pytest.importorskip("msgspec", reason="the zmq extra is not installed (pip install tickwork[zmq])")


@pytest.fixture
def ipc_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """A short directory for ipc:// sockets (paths are limited to ~100 bytes)."""
    import shutil
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp(prefix="tw-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
