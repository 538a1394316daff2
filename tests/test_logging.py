"""ClockAwareLoggerAdapter and each daemon's ctx.logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tickwork import ClockAwareLoggerAdapter, Context, SimClock, Supervisor, daemon


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, ListHandler]]:
    """A fresh parent logger (unique per test) with a handler recording everything."""
    logger = logging.getLogger(f"test_logging.{request.node.name}")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)


def test_adapter_stamps_clock_time(captured: tuple[logging.Logger, ListHandler]) -> None:
    logger, handler = captured
    clock = SimClock(t0=12.5)
    adapter = ClockAwareLoggerAdapter(logger, clock)
    adapter.info("hello %s", "world")
    assert handler.records[0].getMessage() == "hello world"
    assert handler.records[0].sim_time == 12.5  # type: ignore[attr-defined]


def test_caller_sim_time_wins(captured: tuple[logging.Logger, ListHandler]) -> None:
    logger, handler = captured
    adapter = ClockAwareLoggerAdapter(logger, SimClock(t0=1.0), extra={"sim_time": 2.0, "k": 1})
    adapter.info("a", extra={"sim_time": 99.0, "other": "x"})
    adapter.info("b")
    first, second = handler.records
    assert first.sim_time == 99.0  # type: ignore[attr-defined]
    assert first.other == "x"  # type: ignore[attr-defined]
    assert first.k == 1  # type: ignore[attr-defined]
    assert second.sim_time == 2.0  # type: ignore[attr-defined]


def test_format_string_can_use_sim_time(captured: tuple[logging.Logger, ListHandler]) -> None:
    logger, handler = captured
    ClockAwareLoggerAdapter(logger, SimClock(t0=3.25)).warning("w")
    formatted = logging.Formatter("%(sim_time).3f %(message)s").format(handler.records[0])
    assert formatted == "3.250 w"


async def test_daemon_logger_is_a_child_with_sim_time(
    captured: tuple[logging.Logger, ListHandler],
) -> None:
    logger, handler = captured
    clock = SimClock()

    @daemon
    async def talker(ctx: Context) -> None:
        ctx.logger.info("start")
        await ctx.clock.sleep(2.5)
        ctx.logger.info("later")
        ctx.logger.info("override", extra={"sim_time": -1.0})

    async with Supervisor(clock=clock, logger=logger) as sup:
        assert sup.logger is logger
        sup.add(talker())
        sup.add(talker(), name="second")
        await clock.advance(2.5)
    mine = [
        r for r in handler.records if r.name == f"{logger.name}.talker" and r.funcName == "talker"
    ]
    assert [(r.getMessage(), r.sim_time) for r in mine] == [  # type: ignore[attr-defined]
        ("start", 0.0),
        ("later", 2.5),
        ("override", -1.0),
    ]
    assert len([r for r in handler.records if r.name == f"{logger.name}.second"]) >= 3


async def test_default_supervisor_logger_is_tickwork() -> None:
    async with Supervisor(clock=SimClock()) as sup:
        assert sup.logger is logging.getLogger("tickwork")


async def test_daemon_loggers_are_not_registered(
    captured: tuple[logging.Logger, ListHandler],
) -> None:
    logger, handler = captured
    registry = logging.Logger.manager.loggerDict
    before = set(registry)

    @daemon
    async def quick(ctx: Context) -> None:
        ctx.logger.debug("hi")

    async with Supervisor(clock=SimClock(), logger=logger) as sup:
        for i in range(50):
            sup.add(quick(), name=f"session-{i}")
    assert set(registry) == before
    assert len([r for r in handler.records if r.getMessage() == "hi"]) == 50


async def test_daemon_logger_follows_parent_level_changes(
    captured: tuple[logging.Logger, ListHandler],
) -> None:
    """A level change on the supervisor's logger reaches daemons that already logged."""
    logger, handler = captured
    logger.setLevel(logging.INFO)
    clock = SimClock()

    @daemon
    async def chatty(ctx: Context) -> None:
        ctx.logger.debug("first")
        await ctx.clock.sleep(1.0)
        ctx.logger.debug("second")
        await ctx.clock.sleep(1.0)
        ctx.logger.info("third")

    async with Supervisor(clock=clock, logger=logger) as sup:
        sup.add(chatty())
        await clock.run_until_idle()
        logger.setLevel(logging.DEBUG)
        await clock.advance(1.0)
        logger.setLevel(logging.WARNING)
        await clock.advance(1.0)
    assert [r.getMessage() for r in handler.records if r.funcName == "chatty"] == ["second"]
