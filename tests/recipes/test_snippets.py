"""Every snippet in docs/snippets/recipes/ runs, on both backends."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest

SNIPPETS = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "recipes"
# One ``<recipe>_example.py`` per recipe. (Not ``<recipe>.py``: run as a script,
# ``select.py`` would shadow the standard library's ``select`` module.)
NAMES = sorted(p.stem.removesuffix("_example") for p in SNIPPETS.glob("*.py"))
SYNC = {"sync_bridge"}  # runs its own event loop on a thread


def load(name: str) -> ModuleType:
    path = SNIPPETS / f"{name}_example.py"
    spec = importlib.util.spec_from_file_location(f"recipe_snippet_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_is_a_snippet_per_recipe() -> None:
    from .test_modules import MODULES

    assert NAMES == MODULES


@pytest.mark.parametrize("name", sorted(set(NAMES) - SYNC))
async def test_async_snippet_runs(name: str) -> None:
    main = load(name).main
    assert inspect.iscoroutinefunction(main)
    await main()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("name", sorted(SYNC))
def test_sync_snippet_runs(name: str, backend: str) -> None:
    load(name).main(backend)


@pytest.mark.parametrize("name", NAMES)
def test_docs_show_each_snippet_verbatim(name: str) -> None:
    page = (SNIPPETS.parents[1] / "recipes.md").read_text()
    code = (SNIPPETS / f"{name}_example.py").read_text().rstrip("\n")
    assert f"```python\n{code}\n```" in page, f"docs/recipes.md is out of date for {name}"
