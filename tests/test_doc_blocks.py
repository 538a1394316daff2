"""Every ```python block in README.md and docs/ runs, or is visibly marked a fragment.

The rule for every page (CLAUDE.md): a block either

- runs as it stands: this test executes it in a fresh namespace (no event loop is
  running, so a block may call ``anyio.run``); or
- is the verbatim text of a file that another test runs (``examples/*.py``,
  ``docs/snippets/**/*.py``); or
- follows a ``<!-- fragment: why -->`` line (the line right before the fence): an
  excerpt that cannot run on its own (placeholders, other processes, real hosts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
RUN_ELSEWHERE = sorted(
    [*(ROOT / "examples").glob("*.py"), *(ROOT / "docs" / "snippets").rglob("*.py")]
)
FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FRAGMENT = re.compile(r"^<!-- fragment: \S.* -->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    code: str
    fragment: bool

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found: list[Block] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rpartition("\n")[2]
            found.append(Block(page, line, match.group(1), bool(FRAGMENT.match(before))))
    return found


ALL = blocks()
ELSEWHERE = {path.read_text(encoding="utf-8").strip() for path in RUN_ELSEWHERE}
RUNNABLE = [b for b in ALL if not b.fragment and b.code.strip() not in ELSEWHERE]


def test_blocks_are_found_and_fragments_are_the_minority() -> None:
    assert len(ALL) > 10
    assert any(b.page.name == "README.md" for b in ALL)
    assert RUNNABLE


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_block_runs(block: Block, restore_logging: None) -> None:
    code = compile(block.code, block.where, "exec")
    exec(code, {"__name__": f"doc_block_{block.line}"})


def test_a_marker_only_counts_right_before_a_fence(tmp_path: Path) -> None:
    assert FRAGMENT.match("<!-- fragment: needs a second process -->")
    assert not FRAGMENT.match("<!-- fragment -->")  # the reason is required
    assert not FRAGMENT.match("<!-- fragment: -->")
