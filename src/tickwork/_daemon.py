"""The Daemon base class and the ``@daemon`` decorator."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Final,
    Generic,
    ParamSpec,
    TypeAlias,
    final,
    overload,
)

from ._validate import is_instance

if TYPE_CHECKING:
    from ._context import Context
    from ._health import DaemonHealth

__all__ = ["Daemon", "DaemonFactory", "daemon"]

P = ParamSpec("P")

_NO_KWARGS: Final[dict[str, Any]] = {}
"""Shared by every FunctionDaemon without keyword arguments; only ever read."""

DaemonFunction: TypeAlias = Callable[Concatenate["Context", P], Awaitable[None]]


class Daemon(ABC):
    """A long-running component with three hooks, hosted by a :class:`Supervisor`.

    ``on_start`` prepares (open connections, subscribe); ``run`` does the work until it
    returns or is cancelled; ``on_stop`` releases what ``on_start`` acquired. The
    supervisor calls ``on_stop`` exactly once after every successful ``on_start``.
    Sleep through ``ctx.clock`` so tests can replay the daemon under SimClock.
    """

    __slots__ = ()  # subclasses get a __dict__ unless they declare slots themselves

    name: str = ""

    async def on_start(self, ctx: Context) -> None:  # noqa: B027 - optional hook
        """Prepare to run; an exception here means ``on_stop`` is not called."""

    @abstractmethod
    async def run(self, ctx: Context) -> None:
        """Do the daemon's work; returning ends the daemon cleanly."""

    async def on_stop(self, ctx: Context) -> None:  # noqa: B027 - optional hook
        """Release what ``on_start`` acquired; runs shielded when the daemon is cancelled."""

    def hosted_health(self) -> Sequence[DaemonHealth]:
        """Health of the daemons this one hosts elsewhere (none by default).

        A daemon that runs others out of its supervisor's reach (``tickwork.cluster``'s
        ``ProcessDaemon``: the daemons of its child process) reports them here; its
        supervisor's ``snapshot()`` lists each as ``"<this name>/<their name>"``. Called
        on every ``snapshot()``: return what is already at hand, do no I/O.
        """
        return ()


@final
class FunctionDaemon(Daemon):
    """A Daemon whose ``run`` calls ``fn(ctx, *args, **kwargs)``; made by ``@daemon``."""

    __slots__ = ("_args", "_fn", "_kwargs", "name")

    def __init__(
        self,
        fn: Callable[..., Awaitable[None]],
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.name = name
        self._fn = fn
        self._args = args
        self._kwargs = kwargs or _NO_KWARGS  # most daemons have none: share one dict

    def __repr__(self) -> str:
        return f"<daemon {self.name!r} running {self._fn.__qualname__}>"

    async def run(self, ctx: Context) -> None:
        """Call the wrapped function."""
        await self._fn(ctx, *self._args, **self._kwargs)


@final
class DaemonFactory(Generic[P]):
    """What ``@daemon`` returns: call it with the function's arguments to get a Daemon."""

    def __init__(self, fn: DaemonFunction[P], name: str) -> None:
        self.__wrapped__ = fn
        self.__name__: str = getattr(fn, "__name__", name)
        self.__qualname__: str = getattr(fn, "__qualname__", name)
        self.__doc__ = fn.__doc__
        self.name = name
        self._signature = inspect.signature(fn)
        self._arity = _plain_arity(self._signature)

    def __repr__(self) -> str:
        return f"<daemon factory {self.name!r}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Daemon:
        """Bind arguments; the returned Daemon's ``run`` calls ``fn(ctx, *args, **kwargs)``.

        Arguments that do not fit ``fn``'s signature raise TypeError here, not in ``run``.
        """
        if kwargs or len(args) != self._arity:  # the common exact fit skips bind()
            self._check_arguments(args, kwargs)
        return FunctionDaemon(self.__wrapped__, self.name, args, kwargs)

    def _check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            self._signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"@daemon {self.name!r} called with arguments that do not fit "
                f"{self.__qualname__}{self._signature} (ctx is passed for you): {exc}"
            ) from None


def _plain_arity(signature: inspect.Signature) -> int:
    """How many positional arguments after ``ctx`` always fit; -1 when none is that simple.

    For the usual ``async def fn(ctx, a, b)`` an exact count of positional arguments is
    the whole check, so the factory skips ``Signature.bind`` (about 10 us a call).
    """
    params = list(signature.parameters.values())
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if not params or any(p.kind is not plain or p.default is not p.empty for p in params):
        return -1
    return len(params) - 1


@overload
def daemon(fn: DaemonFunction[P], /) -> DaemonFactory[P]: ...


@overload
def daemon(*, name: str | None = None) -> Callable[[DaemonFunction[P]], DaemonFactory[P]]: ...


def daemon(
    fn: DaemonFunction[P] | None = None, /, *, name: str | None = None
) -> DaemonFactory[P] | Callable[[DaemonFunction[P]], DaemonFactory[P]]:
    """Turn ``async def fn(ctx, *args, **kwargs)`` into a factory of Daemons.

    Use as ``@daemon`` or ``@daemon(name="x")``; the name defaults to the function's.
    Call the factory to get a Daemon: ``sup.add(producer(channel))``.
    """

    def wrap(func: DaemonFunction[P]) -> DaemonFactory[P]:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"@daemon needs an async function (async def fn(ctx, ...)), got {func!r}; "
                "define it with 'async def'"
            )
        return DaemonFactory(func, name or getattr(func, "__name__", "daemon"))

    if fn is not None:
        return wrap(fn)
    if name is not None and not is_instance(name, str):
        raise TypeError(f"@daemon(name=...) must be a str, got {name!r}")
    return wrap
