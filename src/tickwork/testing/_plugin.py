"""pytest plugin (entry point ``tickwork``): the ``sim_clock`` fixture, backends, seeds.

- A test that takes ``sim_clock`` runs in an event loop attached to that clock, on
  each backend of ``tickwork_backends`` (default: every backend anyio has installed),
  through anyio's plugin: the test's ``anyio_backend`` is ``(name, options)`` with the
  clock's :meth:`~tickwork.SimClock.backend_options`. No ini setting is needed.
- ``@pytest.mark.sim_clock(autojump=..., seed=..., t0=...)`` configures that clock.
- ``--tickwork-seed N`` sets the seed of every sim test whose marker names none; a
  failing sim test's report names its seed and the command that replays it.
- ``tickwork_backends = asyncio trio`` (ini) also runs every other unowned ``async
  def`` test once per listed backend.

Tests that another plugin owns are left alone: ones marked ``asyncio`` or ``trio``
(or every coroutine test when pytest-asyncio runs in auto mode), and tests under a
project's own ``anyio_backend`` fixture, which keeps its backends and options.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Generator
from typing import Any, Final

import anyio
import pytest

from tickwork._simclock import SimClock

_INI: Final = "tickwork_backends"
_KNOWN: Final = ("asyncio", "trio")
_MARKER: Final = "sim_clock"
_MARKER_KEYS: Final = frozenset({"autojump", "seed", "t0"})
_OTHER_PLUGIN_MARKERS: Final = ("asyncio", "trio")
_ANYIO_PLUGIN: Final = "anyio.pytest_plugin"

_CLOCK = pytest.StashKey[SimClock]()
_SEED = pytest.StashKey[tuple[int, str]]()


class _SimOptions(dict[str, Any]):
    """A sim test's backend options: filled with its clock's options at setup."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``tickwork_backends`` ini option and ``--tickwork-seed``."""
    parser.addini(
        _INI,
        type="args",
        default=[],
        help="anyio backends every async test runs on (e.g. asyncio trio); "
        "empty = sim_clock tests only, on every installed backend",
    )
    parser.getgroup("tickwork").addoption(
        "--tickwork-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed for every sim_clock test whose marker names no seed (default 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; reject an unknown backend name before collection."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(autojump=False, seed=0, t0=0.0): options of the test's SimClock",
    )
    _backends(config)


def _backends(config: pytest.Config) -> list[str]:
    backends: list[str] = list(config.getini(_INI))
    unknown = [b for b in backends if b not in _KNOWN]
    if unknown:
        raise pytest.UsageError(f"{_INI}: unknown backend(s) {unknown}; choose from {_KNOWN}")
    return backends


def _sim_backends(config: pytest.Config) -> list[str]:
    backends = _backends(config)
    if backends:
        return backends
    return [b for b in _KNOWN if importlib.util.find_spec(b) is not None]


def _owned_elsewhere(config: pytest.Config, node: pytest.Item | pytest.Collector) -> bool:
    """Whether pytest-asyncio or pytest-trio claims this coroutine test."""
    if any(node.get_closest_marker(name) for name in _OTHER_PLUGIN_MARKERS):
        return True
    if config.pluginmanager.has_plugin("asyncio"):
        return str(config.getini("asyncio_mode")) == "auto"
    return False


def _anyio_owns_backend(metafunc: pytest.Metafunc) -> bool:
    """True when ``anyio_backend`` is anyio's default fixture, not the project's own."""
    manager: Any = metafunc.config.pluginmanager.get_plugin("funcmanage")
    defs = manager.getfixturedefs("anyio_backend", metafunc.definition)
    if not defs:
        return True
    return getattr(defs[-1].func, "__module__", None) == _ANYIO_PLUGIN


def _is_coroutine_test(obj: object) -> bool:
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", obj)
    return inspect.iscoroutinefunction(inner)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Hand unowned ``async def`` tests to anyio's plugin when backends are configured."""
    if not isinstance(collector, pytest.Module | pytest.Class):
        return
    if not collector.istestfunction(obj, name) or not _is_coroutine_test(obj):
        return
    if _owned_elsewhere(collector.config, collector):
        return
    own = [getattr(m, "name", None) for m in getattr(obj, "pytestmark", ())]
    if any(m in _OTHER_PLUGIN_MARKERS for m in own):
        return
    if _backends(collector.config) or _MARKER in own or _takes_sim_clock(obj):
        pytest.mark.anyio(obj)
        pytest.mark.usefixtures("anyio_backend")(obj)


def _takes_sim_clock(obj: object) -> bool:
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", obj)
    try:
        return _MARKER in inspect.signature(inner).parameters  # pyright: ignore[reportArgumentType]
    except (TypeError, ValueError):
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each tickwork-owned async test once per backend; sim tests on their own loop."""
    config = metafunc.config
    if not _is_coroutine_test(metafunc.function):
        return
    if not _anyio_owns_backend(metafunc):
        return  # the project's own anyio_backend fixture decides
    if _MARKER in metafunc.fixturenames:
        if _owned_elsewhere(config, metafunc.definition):
            return
        backends = _sim_backends(config)
        if "anyio_backend" not in metafunc.fixturenames:
            metafunc.fixturenames.append("anyio_backend")
        metafunc.parametrize(
            "anyio_backend",
            [(b, _SimOptions()) for b in backends],
            ids=backends,
            scope="function",
        )
        return
    backends = _backends(config)
    if backends and "anyio_backend" in metafunc.fixturenames:
        metafunc.parametrize("anyio_backend", backends, ids=backends, scope="module")


def _seed(item: pytest.Item) -> tuple[int, str]:
    """The sim test's seed and where it came from (marker > --tickwork-seed > 0)."""
    kwargs = _marker_kwargs(item)
    if "seed" in kwargs:
        return kwargs["seed"], "marker"
    option: int | None = item.config.getoption("--tickwork-seed")
    if option is not None:
        return option, "option"
    return 0, "default"


def _marker_kwargs(item: pytest.Item) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for marker in reversed(list(item.iter_markers(_MARKER))):
        if marker.args:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{_MARKER} takes keyword arguments only "
                f"({', '.join(sorted(_MARKER_KEYS))}), got positional {marker.args!r}"
            )
        unknown = sorted(set(marker.kwargs) - _MARKER_KEYS)
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{_MARKER} got unknown option(s) {unknown}; "
                f"choose from {sorted(_MARKER_KEYS)}"
            )
        merged.update(marker.kwargs)
    return merged


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Make the sim test's clock before any fixture, so async fixtures share its loop."""
    fixturenames: list[str] = getattr(item, "fixturenames", [])
    if _MARKER not in fixturenames:
        if any(m.name == _MARKER for m in getattr(item, "own_markers", ())):
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{_MARKER} needs the test to take the "
                f"{_MARKER} fixture"
            )
        return
    kwargs = _marker_kwargs(item)
    seed, source = _seed(item)
    item.stash[_SEED] = (seed, source)
    clock = SimClock(kwargs.get("t0", 0.0), autojump=kwargs.get("autojump", False), seed=seed)
    item.stash[_CLOCK] = clock
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("anyio_backend") if callspec is not None else None
    if isinstance(backend, tuple) and len(backend) == 2 and isinstance(backend[1], _SimOptions):  # pyright: ignore[reportUnknownArgumentType]
        options: _SimOptions = backend[1]
        options.clear()
        options.update(clock.backend_options(str(backend[0])))  # pyright: ignore[reportUnknownArgumentType]
    elif _is_coroutine_test(getattr(item, "obj", None)):
        raise pytest.UsageError(
            f"{item.nodeid}: takes {_MARKER}, but its event loop comes from another plugin "
            "or the project's own anyio_backend fixture, so tickwork cannot attach the loop "
            f"to the clock; let tickwork run it (no asyncio/trio marker, no anyio_backend "
            f"override in its scope) or make a SimClock and call clock.run yourself"
        )


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Drop the clock options, so a rerun of the item attaches a fresh clock."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("anyio_backend") if callspec is not None else None
    if isinstance(backend, tuple) and len(backend) == 2 and isinstance(backend[1], _SimOptions):  # pyright: ignore[reportUnknownArgumentType]
        backend[1].clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the seed and the replay command to a failing sim test's report."""
    report = yield
    if report.failed and _SEED in item.stash:
        seed, source = item.stash[_SEED]
        replay = f"pytest '{item.nodeid}'"
        if source != "marker":
            replay += f" --tickwork-seed {seed}"
        report.sections.append(
            ("tickwork", f"SimClock seed {seed} (from {source}); replay: {replay}")
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Fail a sim test clearly if anyio ran it in a loop not attached to its clock."""
    clock = pyfuncitem.stash.get(_CLOCK, None)
    test = pyfuncitem.obj
    if clock is None or not inspect.iscoroutinefunction(test):
        return (yield)

    async def checked(**kwargs: object) -> object:
        if anyio.current_time() != clock.now():
            raise pytest.UsageError(
                f"{pyfuncitem.nodeid}: anyio reused an event loop that a wider-scoped async "
                f"fixture keeps alive, so the loop is not attached to {_MARKER}; make the "
                "async fixtures in this scope function-scoped or move the sim test"
            )
        return await test(**kwargs)

    pyfuncitem.obj = checked
    try:
        return (yield)
    finally:
        pyfuncitem.obj = test


@pytest.fixture
def sim_clock(request: pytest.FixtureRequest) -> SimClock:
    """The test's :class:`~tickwork.SimClock`; an async test's loop is attached to it."""
    return request.node.stash[_CLOCK]
