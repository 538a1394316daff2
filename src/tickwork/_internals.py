"""Private helpers that the core, the recipes, the network daemons and the transports share.

One place for what used to be written several times: the no-public-constructor
metaclass, the ``__module__`` fix-up of package re-exports, the fairness budget of
fast-path operations (ADR 0003) and the stop-event watcher. Argument checks live in
``_validate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar, final, get_origin

import anyio

__all__ = [
    "FAIRNESS_INTERVAL",
    "FairnessBudget",
    "NoPublicConstructor",
    "construct",
    "fixup_module_metadata",
    "run_on_stop",
]

T = TypeVar("T")

FAIRNESS_INTERVAL: Final = 64
"""Completed-at-once operations an endpoint may do in a row before it yields.

Large enough that the yield costs under 2% of a fast-path run on asyncio, small enough
that a producer into an unbounded channel still lets other tasks (and cancellation) in
within microseconds.
"""


class NoPublicConstructor(type):
    """Metaclass for classes that only a factory function builds (trio's pattern).

    ``class X(metaclass=NoPublicConstructor, factory="tickwork.open_channel()")``:
    calling ``X(...)`` raises TypeError naming the factory; the factory builds instances
    with :func:`construct`. A subclass inherits its base's factory unless it names one.
    """

    _factory_name: str

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        /,
        *,
        factory: str | None = None,
        **kwargs: Any,
    ) -> NoPublicConstructor:
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if factory is not None:
            cls._factory_name = factory
        elif not any(isinstance(base, NoPublicConstructor) for base in bases):
            raise TypeError(f"class {name} with metaclass NoPublicConstructor needs factory=...")
        return cls

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} has no public constructor; "
            f"create it with {cls._factory_name}"
        )


def construct(cls: type[T], /, *args: Any, **kwargs: Any) -> T:
    """Build ``cls(*args, **kwargs)`` past a :class:`NoPublicConstructor` metaclass.

    ``cls`` may be parameterised (``construct(MemorySendStream[T], state)``) so the
    result is typed without a cast; the class itself is what gets called.
    """
    return type.__call__(get_origin(cls) or cls, *args, **kwargs)


def fixup_module_metadata(
    package: str, namespace: Mapping[str, object], names: Sequence[str]
) -> None:
    """Make reprs, tracebacks and docs say ``package.X`` rather than its private module.

    Called at the end of a package's ``__init__`` with ``__name__, globals(), __all__``;
    only objects defined in one of the package's own private modules are renamed.
    """
    prefix = f"{package}._"
    for name in names:
        obj = namespace[name]
        if getattr(obj, "__module__", "").startswith(prefix):
            try:
                obj.__module__ = package
            except (AttributeError, TypeError):
                continue


@final
class FairnessBudget:
    """Counts operations that completed without yielding; says when to yield (ADR 0003).

    ``if budget.spend(): await anyio.lowlevel.checkpoint()`` on each fast-path
    operation; :meth:`refill` after an operation that did yield (it parked).
    """

    __slots__ = ("_left",)

    def __init__(self) -> None:
        self._left = FAIRNESS_INTERVAL

    def spend(self, count: int = 1) -> bool:
        """Count ``count`` operations; True (and refilled) once the budget is used up."""
        self._left -= count
        if self._left <= 0:
            self._left = FAIRNESS_INTERVAL
            return True
        return False

    def refill(self) -> None:
        """Start a fresh budget: the caller just went through the scheduler."""
        self._left = FAIRNESS_INTERVAL


async def run_on_stop(stop_event: anyio.Event, on_stop: Callable[[], object]) -> None:
    """Wait for ``stop_event``, then call ``on_stop()`` (usually a scope's ``cancel``).

    Start it in the task group whose body it must interrupt and cancel that group's
    scope when the body ends: ``tg.start_soon(run_on_stop, ctx.stop_event, scope.cancel)``.
    """
    await stop_event.wait()
    on_stop()
