"""Backoff: growth, cap after jitter, seeded replay, reset, bad input."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tickwork.network import Backoff


def test_defaults_match_the_spec() -> None:
    b = Backoff()
    assert (b.min, b.max, b.factor, b.jitter, b.seed) == (1.0, 300.0, 2.0, 0.1, None)


def test_grows_by_factor_up_to_max_without_jitter() -> None:
    b = Backoff(jitter=0.0)
    delays = [b.next() for _ in range(12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert b.attempt == 12


def test_reset_starts_again_from_min() -> None:
    b = Backoff(min=0.5, max=10.0, jitter=0.0)
    assert [b.next() for _ in range(3)] == [0.5, 1.0, 2.0]
    b.reset()
    assert b.attempt == 0
    assert b.next() == 0.5


def test_jitter_is_bounded_and_seeded() -> None:
    a = Backoff(seed=42)
    b = Backoff(seed=42)
    first = [a.next() for _ in range(20)]
    assert first == [b.next() for _ in range(20)]
    other = Backoff(seed=43)
    assert first != [other.next() for _ in range(20)]
    for attempt, delay in enumerate(first[:8]):
        nominal = 2.0**attempt
        assert 0.9 * nominal <= delay <= 1.1 * nominal
    assert len({round(d / 2.0**i, 9) for i, d in enumerate(first[:8])}) > 1  # really jittered


def test_cap_is_applied_after_jitter() -> None:
    b = Backoff(min=1.0, max=300.0, jitter=0.1, seed=1)
    for _ in range(10):
        b.next()
    capped = [b.next() for _ in range(500)]
    assert max(capped) <= 300.0
    assert min(capped) >= 270.0
    assert any(d < 300.0 for d in capped)
    assert capped.count(300.0) > 100  # every upward draw clips to the cap


def test_huge_attempts_do_not_overflow() -> None:
    b = Backoff(factor=10.0, jitter=0.0)
    delays = [b.next() for _ in range(400)]
    assert delays[-1] == 300.0
    assert all(math.isfinite(d) for d in delays)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min": -1.0}, "base"),
        ({"factor": 0.5}, "factor"),
        ({"min": 10.0, "max": 5.0}, "cap"),
        ({"jitter": 1.0}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"min": math.nan}, "base"),
        ({"max": math.inf}, "cap"),
    ],
)
def test_bad_settings_raise_value_error(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"Backoff.{field}"):
        Backoff(**kwargs)


def test_bad_seed_raises_type_error() -> None:
    with pytest.raises(TypeError, match="seed"):
        Backoff(seed="7")  # type: ignore[arg-type]
