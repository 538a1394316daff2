"""Fixtures for the ZeroMQ transport tests (the `zmq` extra is part of the dev env)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest


@pytest.fixture
def ipc_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """A short directory for ipc:// sockets (paths are limited to ~100 bytes)."""
    import shutil
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp(prefix="tw-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
