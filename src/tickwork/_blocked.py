"""Describe what the blocked tasks of a run wait on (for :class:`~tickwork.Deadlock`).

Public introspection only: ``asyncio.all_tasks`` with ``Task.get_stack`` on asyncio;
the task tree from ``trio.lowlevel.current_root_task`` with ``Task.iter_await_frames``
on trio. Each task is named with the innermost frame it is suspended in.
"""

from __future__ import annotations

import asyncio
import os
import sys
from types import FrameType
from typing import Final

from ._park import current_backend

__all__ = ["describe_blocked"]

MAX_LISTED: Final = 20
"""Tasks named in one message; the rest are counted, so a huge program stays readable."""


def _library_dirs() -> tuple[str, ...]:
    import anyio

    dirs = [os.path.dirname(module.__file__ or "") for module in (anyio, asyncio)]
    dirs.append(os.path.dirname(os.path.abspath(__file__)))
    trio = sys.modules.get("trio")
    if trio is not None:
        dirs.append(os.path.dirname(trio.__file__ or ""))
    return tuple(d + os.sep for d in dirs if d)


def _where(frames: list[FrameType]) -> str | None:
    """The innermost frame outside the async libraries and tickwork, or None."""
    libraries = _library_dirs()
    for frame in reversed(frames):
        code = frame.f_code
        if not code.co_filename.startswith(libraries):
            return f"{code.co_name} ({os.path.basename(code.co_filename)}:{frame.f_lineno})"
    return None


def _coroutine_frames(coro: object) -> list[FrameType]:
    frames: list[FrameType] = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if isinstance(frame, FrameType):
            frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames


def _asyncio_tasks() -> list[str]:
    lines: list[str] = []
    for task in sorted(asyncio.all_tasks(), key=lambda t: t.get_name()):
        where = _where(_coroutine_frames(task.get_coro()))
        if where is not None:
            lines.append(f"task {task.get_name()!r} waits in {where}")
    return lines


def _trio_tasks() -> list[str]:
    import trio

    lines: list[str] = []
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop(0)
        if task is None:
            continue
        where = _where([frame for frame, _ in task.iter_await_frames()])
        if where is not None:
            lines.append(f"task {task.name!r} waits in {where}")
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return lines


def describe_blocked() -> str:
    """One line per blocked task (leaf tasks on trio), at most :data:`MAX_LISTED`."""
    lines = _trio_tasks() if current_backend() == "trio" else _asyncio_tasks()
    shown = lines[:MAX_LISTED]
    if len(lines) > MAX_LISTED:
        shown.append(f"... and {len(lines) - MAX_LISTED} more")
    return "; ".join(shown) if shown else "no tasks"
