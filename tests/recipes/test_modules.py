"""The recipe namespace: one flat module per recipe, one import path per name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import tickwork.recipes

MODULES = [
    "batcher",
    "cooperative_every",
    "fanout",
    "latest",
    "load_balance",
    "lossy",
    "merge",
    "select",
    "supervisor_host",
    "sync_bridge",
    "worker_pool",
]


SHARED_HELPERS = ("tickwork._internals", "tickwork._validate")


def test_the_package_lists_exactly_the_recipe_modules_and_reexports_nothing() -> None:
    public = sorted(
        m.name
        for m in pkgutil.iter_modules(tickwork.recipes.__path__)
        if not m.name.startswith("_")
    )
    assert public == MODULES
    assert not hasattr(tickwork.recipes, "__all__")
    reexported = [
        attr
        for attr, value in vars(tickwork.recipes).items()
        if attr.isidentifier() and not attr.startswith("_") and not inspect.ismodule(value)
    ]
    assert reexported == []


@pytest.mark.parametrize("name", MODULES)
def test_each_module_has_a_sorted_complete_all_of_its_own_names(name: str) -> None:
    module = importlib.import_module(f"tickwork.recipes.{name}")
    exported: list[str] = list(module.__all__)
    assert exported == sorted(exported)
    defined_here = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module.__name__
    }
    assert defined_here == set(exported)


@pytest.mark.parametrize("name", MODULES)
def test_recipe_classes_are_final_and_documented(name: str) -> None:
    module = importlib.import_module(f"tickwork.recipes.{name}")
    for attr in module.__all__:
        obj = getattr(module, attr)
        assert obj.__doc__, f"{name}.{attr} needs a docstring"
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            assert getattr(obj, "__final__", False), f"{name}.{attr} should be @final"


@pytest.mark.parametrize("name", MODULES)
def test_recipes_use_only_the_public_core(name: str) -> None:
    source = inspect.getsource(importlib.import_module(f"tickwork.recipes.{name}"))
    # The shared private helpers (CLAUDE.md) are the only exceptions.
    for shared in SHARED_HELPERS:
        source = source.replace(f"from {shared} import", "")
    assert "tickwork._" not in source
    assert "from .._" not in source
