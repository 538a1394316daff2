"""Every snippet in docs/snippets/simclock/ (shown in docs/concepts.md) runs on both
backends. Each starts its own event loop, so these are plain functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SNIPPETS = Path(__file__).resolve().parents[1] / "docs" / "snippets" / "simclock"
NAMES = sorted(p.stem for p in SNIPPETS.glob("*_example.py"))


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"simclock_snippet_{name}", SNIPPETS / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_snippets_are_there() -> None:
    assert NAMES == ["attached_example", "seeds_example", "threads_example", "timeouts_example"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("name", NAMES)
def test_snippet_runs(name: str, backend: str) -> None:
    load(name).main(backend)
