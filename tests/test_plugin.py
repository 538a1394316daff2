"""The tickwork pytest plugin: the sim_clock fixture and opt-in backend runs."""

from __future__ import annotations

import anyio.lowlevel
import pytest

from tickwork import SimClock


async def test_sim_clock_fixture_is_fresh_and_drivable(sim_clock: SimClock) -> None:
    assert sim_clock.now() == 0.0
    await sim_clock.advance(2.5)
    assert sim_clock.now() == 2.5


async def test_every_async_test_runs_on_a_configured_backend(anyio_backend_name: str) -> None:
    await anyio.lowlevel.checkpoint()
    assert anyio_backend_name in ("asyncio", "trio")


ASYNC_TEST = """
import sniffio

SEEN = []

async def test_backend():
    SEEN.append(sniffio.current_async_library())

def test_collected_both():
    assert True
"""


def test_backends_option_runs_each_async_test_per_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntickwork_backends = asyncio trio\n")
    pytester.makepyfile(test_sample=ASYNC_TEST)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_backend?asyncio? PASSED*", "*test_backend?trio? PASSED*"])


def test_without_the_option_async_tests_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_sample=ASYNC_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore")
    outcomes = result.parseoutcomes()
    # anyio does not pick up an unmarked coroutine test; pytest skips or fails it.
    assert outcomes.get("passed") == 1


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntickwork_backends = asyncio curio\n")
    pytester.makepyfile(test_sample=ASYNC_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "tickwork_backends: unknown backend(s) ['curio']" in result.stderr.str()
