"""pytest plugin (entry point ``tickwork``): the ``sim_clock`` fixture and backend runs.

Add ``tickwork_backends = ["asyncio", "trio"]`` to your pytest ini options and every
``async def`` test runs once per listed backend through anyio's pytest plugin, no
marker needed. Without that option the plugin only provides fixtures.
"""

from __future__ import annotations

import inspect

import pytest

from tickwork._simclock import SimClock

_INI = "tickwork_backends"
_KNOWN = ("asyncio", "trio")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``tickwork_backends`` ini option."""
    parser.addini(
        _INI,
        type="args",
        default=[],
        help="anyio backends every async test runs on (e.g. asyncio trio); empty = off",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Reject an unknown backend name before any test is collected."""
    _backends(config)


def _backends(config: pytest.Config) -> list[str]:
    backends: list[str] = list(config.getini(_INI))
    unknown = [b for b in backends if b not in _KNOWN]
    if unknown:
        raise pytest.UsageError(f"{_INI}: unknown backend(s) {unknown}; choose from {_KNOWN}")
    return backends


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark ``async def`` tests for anyio when backends are configured."""
    if not _backends(collector.config):
        return
    if isinstance(collector, pytest.Module | pytest.Class) and collector.istestfunction(obj, name):
        hypothesis = getattr(obj, "hypothesis", None)
        inner = getattr(hypothesis, "inner_test", obj)
        if inspect.iscoroutinefunction(inner):
            pytest.mark.anyio(obj)


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each anyio test once per configured backend."""
    backends = _backends(metafunc.config)
    if not backends or "anyio_backend" not in metafunc.fixturenames:
        return
    metafunc.parametrize("anyio_backend", backends, ids=backends, scope="module")


@pytest.fixture
def sim_clock() -> SimClock:
    """A fresh :class:`~tickwork.SimClock` at t=0 for one test."""
    return SimClock()
