"""ClockAwareLoggerAdapter and each daemon's ctx.logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import tickwork
from tickwork import ClockAwareLoggerAdapter, Context, SimClock, Supervisor, daemon
from tickwork._logging import library_logger


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


CONCEPTS = Path(__file__).resolve().parents[1] / "docs" / "concepts.md"
MARKER = "<!-- logging-dictconfig-example -->"


def concepts_example() -> str:
    text = CONCEPTS.read_text()
    after = text[text.index(MARKER) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```", start)]


async def test_concepts_dictconfig_example_configures_per_library_supervisor_and_daemon(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(concepts_example(), str(CONCEPTS), "exec"), {})
    clock = SimClock()

    @daemon
    async def chatty(ctx: Context) -> None:
        ctx.logger.info("info from %s", ctx.name)
        ctx.logger.warning("warning from %s", ctx.name)
        ctx.logger.error("error from %s", ctx.name)

    async with Supervisor(clock=clock) as sup:
        sup.add(chatty(), name="outbox")
        sup.add(chatty(), name="other")
    async with Supervisor(clock=clock, logger=logging.getLogger("app.sessions")) as sup:
        sup.add(chatty(), name="session-1")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(None, 1)[1] for line in lines] == [
        "outbox     ERROR   error from outbox",
        "other      WARNING warning from other",
        "other      ERROR   error from other",
        "session-1  INFO    info from session-1",
        "session-1  WARNING warning from session-1",
        "session-1  ERROR   error from session-1",
    ]
    assert all(line.split()[0] == "0.000" for line in lines)


async def test_the_issue_probe_set_level_on_a_daemon_name_takes_effect(
    restore_logging: None,
) -> None:
    handler = ListHandler()
    root = logging.getLogger("tickwork")
    root.addHandler(handler)
    logging.getLogger("tickwork.outbox").setLevel(logging.ERROR)

    @daemon
    async def noisy(ctx: Context) -> None:
        ctx.logger.warning("dropped")
        ctx.logger.error("kept")

    try:
        async with Supervisor(clock=SimClock()) as sup:
            sup.add(noisy(), name="outbox")
    finally:
        root.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == ["kept"]


def test_library_records_carry_daemon_and_sim_time() -> None:
    handler = ListHandler()
    logger = library_logger("tickwork.transports.zmq")
    logger.addHandler(handler)
    try:
        logger.warning("from a transport")
    finally:
        logger.removeHandler(handler)
    [record] = handler.records
    formatted = logging.Formatter("%(sim_time).3f %(daemon)s %(message)s").format(record)
    assert formatted.endswith(" - from a transport")


def test_every_library_logger_stamps_its_records() -> None:
    """A module logger made with plain ``getLogger("tickwork...")`` would skip the filter
    that puts ``daemon`` and ``sim_time`` on records, and break ``%(daemon)s`` formats."""
    src = Path(tickwork.__file__).parent
    plain = [
        f"{path.relative_to(src)}:{number}"
        for path in sorted(src.rglob("*.py"))
        if path.name != "_logging.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if 'logging.getLogger("tickwork' in line
    ]
    assert plain == [], "use tickwork._logging.library_logger instead"
