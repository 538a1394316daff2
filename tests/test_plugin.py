"""The tickwork pytest plugin: the sim_clock fixture and opt-in backend runs."""

from __future__ import annotations

from pathlib import Path

import anyio.lowlevel
import pytest

from tickwork import SimClock
from tickwork.testing import wait_all_blocked


async def test_sim_clock_fixture_is_fresh_and_drivable(sim_clock: SimClock) -> None:
    assert sim_clock.now() == 0.0
    await sim_clock.advance(2.5)
    assert sim_clock.now() == 2.5


@pytest.mark.sim_clock(autojump=True, t0=100.0)
async def test_sim_clock_attaches_the_test_loop(sim_clock: SimClock) -> None:
    assert anyio.current_time() == 100.0
    with anyio.move_on_after(5):
        await anyio.sleep(60)  # noqa: TID251 - attached: anyio's own timer is virtual
    assert (sim_clock.now(), anyio.current_time()) == (105.0, 105.0)


@pytest.mark.sim_clock(seed=7)
async def test_marker_seed_configures_the_clock(sim_clock: SimClock) -> None:
    await wait_all_blocked()
    assert sim_clock.seed == 7


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
    result = pytester.runpytest("-v", "-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_backend?asyncio? PASSED*", "*test_backend?trio? PASSED*"])


def test_without_the_option_async_tests_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_sample=ASYNC_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "ignore")
    outcomes = result.parseoutcomes()
    # anyio does not pick up an unmarked coroutine test; pytest skips or fails it.
    assert outcomes.get("passed") == 1


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntickwork_backends = asyncio curio\n")
    pytester.makepyfile(test_sample=ASYNC_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "tickwork_backends: unknown backend(s) ['curio']" in result.stderr.str()


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio", *args)


SIM_TESTS = """
import anyio
import pytest
import sniffio

async def test_attached(sim_clock):
    await anyio.sleep(0)
    with anyio.fail_after(5):
        await sim_clock.advance(3)
    assert anyio.current_time() == 3.0
    print("BACKEND", sniffio.current_async_library())

@pytest.mark.sim_clock(autojump=True)
async def test_autojump(sim_clock):
    await anyio.sleep(1e6)
    assert sim_clock.now() == 1e6

@pytest.mark.sim_clock(seed=3)
async def test_fails_pinned(sim_clock):
    assert False

async def test_fails_seeded(sim_clock):
    assert sim_clock.seed == 0
"""


def test_sim_clock_needs_no_ini_and_runs_each_installed_backend(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_sim=SIM_TESTS)
    result = _run(pytester, "-v", "-s", "-k", "attached or autojump")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*BACKEND asyncio*", "*BACKEND trio*"])


def test_failure_report_names_seed_and_replay_command(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_sim=SIM_TESTS)
    result = _run(pytester, "--tickwork-seed", "5", "-k", "fails")
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    assert (
        "SimClock seed 3 (from marker); replay: pytest 'test_sim.py::test_fails_pinned[trio]'"
        in out
    )
    assert (
        "SimClock seed 5 (from option); replay: pytest "
        "'test_sim.py::test_fails_seeded[asyncio]' --tickwork-seed 5" in out
    )


def test_marker_rejects_unknown_options(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_bad="import pytest\n@pytest.mark.sim_clock(speed=2)\n"
        "async def test_x(sim_clock):\n    pass\n"
    )
    result = _run(pytester)
    assert (
        "unknown option(s) ['speed']; choose from ['autojump', 'seed', 't0']" in result.stdout.str()
    )


COEXIST_CONFTEST = """
import pytest
"""

ASYNCIO_PROJECT = """
import pytest
import sniffio

@pytest.mark.asyncio
async def test_pytest_asyncio():
    assert sniffio.current_async_library() == "asyncio"
    print("RAN pytest-asyncio")
"""

ANYIO_PROJECT_CONFTEST = """
import pytest

@pytest.fixture(params=[("trio", {"restrict_keyboard_interrupt_to_checkpoints": True})])
def anyio_backend(request):
    return request.param
"""

ANYIO_PROJECT = """
import pytest
import sniffio

@pytest.mark.anyio
async def test_own_anyio_backend(anyio_backend):
    assert anyio_backend[1] == {"restrict_keyboard_interrupt_to_checkpoints": True}
    assert sniffio.current_async_library() == "trio"
    print("RAN own-anyio")
"""

TICKWORK_PROJECT = """
import anyio
import sniffio

async def test_tickwork(anyio_backend_name):
    assert sniffio.current_async_library() == anyio_backend_name
    print("RAN tickwork", anyio_backend_name)

async def test_tickwork_sim(sim_clock, anyio_backend_name):
    await anyio.sleep(0)
    assert sniffio.current_async_library() == anyio_backend_name
    print("RAN sim", anyio_backend_name)
"""


def test_coexists_with_pytest_asyncio_and_a_projects_anyio_backend(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(
        "[pytest]\ntickwork_backends = asyncio trio\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_asyncio_project=ASYNCIO_PROJECT, test_tickwork_project=TICKWORK_PROJECT
    )
    anyio_dir = pytester.mkpydir("anyio_project")
    (anyio_dir / "conftest.py").write_text(ANYIO_PROJECT_CONFTEST)
    (anyio_dir / "test_anyio_project.py").write_text(ANYIO_PROJECT)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", "-v")
    result.assert_outcomes(passed=6)
    lines = [line for line in result.outlines if "RAN " in line]
    ran = sorted(
        line[line.index("RAN ") :].strip().removesuffix("PASSED").strip() for line in lines
    )
    assert ran == [
        "RAN own-anyio",
        "RAN pytest-asyncio",
        "RAN sim asyncio",
        "RAN sim trio",
        "RAN tickwork asyncio",
        "RAN tickwork trio",
    ]


def test_the_docs_example_runs_on_both_backends(pytester: pytest.Pytester) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "testing.md").read_text()
    section = doc[doc.index("## The pytest plugin") :]
    example = section[section.index("```python\n") + len("```python\n") :]
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_doc_example=example[: example.index("```")])
    _run(pytester, "-v").assert_outcomes(passed=4)


def test_sim_clock_under_a_projects_own_anyio_backend_is_a_clear_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(ANYIO_PROJECT_CONFTEST)
    pytester.makepyfile(
        test_x="import pytest\n@pytest.mark.anyio\nasync def test_x(sim_clock):\n    pass\n"
    )
    result = _run(pytester)
    assert "so tickwork cannot attach the loop to the clock" in result.stdout.str()
    assert "passed" not in result.stdout.str()


WIDER_FIXTURE = """
import pytest

@pytest.fixture(scope="module")
async def shared():
    yield 1

async def test_uses_shared(shared):
    pass

async def test_sim(sim_clock):
    pass
"""


def test_a_sim_test_in_a_loop_kept_alive_by_a_wider_fixture_fails_clearly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\ntickwork_backends = asyncio trio\n")
    pytester.makepyfile(test_wide=WIDER_FIXTURE)
    result = _run(pytester)
    result.assert_outcomes(passed=2, failed=2)
    assert "so the loop is not attached to sim_clock" in result.stdout.str()
