"""The public surface: complete sorted ``__all__``, tidy module names, final classes."""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest

import tickwork
import tickwork.cluster
import tickwork.hosting
import tickwork.hosting.http
import tickwork.testing

PACKAGES = [tickwork, tickwork.cluster, tickwork.hosting, tickwork.hosting.http, tickwork.testing]

# Designed for subclassing (Daemon), or typing-only constructs.
OPEN_FOR_SUBCLASSING = {"Daemon", "TickworkError"}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_all_is_sorted_and_complete(package: object) -> None:
    names: list[str] = list(package.__all__)  # type: ignore[attr-defined]
    assert names == sorted(names)
    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name not in {"annotations"}
    }
    assert public == set(names)


def test_public_objects_report_the_package_as_their_module() -> None:
    for name in tickwork.__all__:
        obj = getattr(tickwork, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == "tickwork", name


def _is_protocol(cls: type) -> bool:
    return Protocol in getattr(cls, "__mro__", ()) or getattr(cls, "_is_protocol", False)


def test_classes_are_final_unless_meant_for_subclassing() -> None:
    for name in tickwork.__all__:
        obj = getattr(tickwork, name)
        if not inspect.isclass(obj) or _is_protocol(obj) or name in OPEN_FOR_SUBCLASSING:
            continue
        if issubclass(obj, BaseException):
            continue  # exceptions may be subclassed by callers, like trio's
        assert getattr(obj, "__final__", False), f"tickwork.{name} should be @final"


def test_simclock_public_surface_is_the_contract() -> None:
    """The engines' and attached loops' hooks are private (ADR 0027): a user sees only
    the Clock protocol and SimClock's own controls."""
    public = {name for name in dir(tickwork.SimClock) if not name.startswith("_")}
    assert public == {
        "advance",
        "advance_to",
        "autojump",
        "backend_options",
        "busy",
        "every",
        "fail_after",
        "jump_when_idle",
        "move_on_after",
        "next_deadline",
        "now",
        "now_ns",
        "pending",
        "run",
        "run_sync",
        "run_until_idle",
        "seed",
        "settle_rounds",
        "sleep",
        "sleep_until_ns",
        "wait_until",
    }
