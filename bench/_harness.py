"""Shared helpers for the benchmarks: interleaved repetitions, medians, tables, versions.

Every benchmark builds a list of :class:`Case` objects (one per backend x contender x
parameter) and hands them to :func:`round_robin`, which runs one repetition of every
case before starting the next repetition. On a noisy shared machine this spreads the
noise evenly over the contenders instead of letting one of them run during a quiet
minute and another during a busy one. The start of each round rotates by one case so no
contender is always first (or always right after the slowest one).

Each case's ``run`` starts a fresh event loop (``anyio.run``), does its own timing
inside it with :func:`time.perf_counter` (loop start-up and teardown are not timed) and
returns a dict of named measurements. We report medians over the repetitions, the
spread (max - min) / median so the reader can see how noisy a figure is, and ratios
taken per round (:meth:`Case.paired_ratio`): the median of tickwork/contender over the
rounds, each pair measured seconds apart.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

__all__ = [
    "BACKENDS",
    "Case",
    "Options",
    "fmt_ratio",
    "fmt_rate",
    "fmt_seconds",
    "fmt_spread",
    "forget_loggers",
    "parse_args",
    "print_header",
    "print_table",
    "round_robin",
    "versions",
]

BACKENDS: tuple[str, ...] = ("asyncio", "trio")

now = time.perf_counter


def _dist_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _tickwork_source() -> str:
    """The git commit the measured tickwork comes from, flagged when src/ has edits."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted src/ changes' if dirty else ''}"


def versions() -> dict[str, str]:
    """Versions of everything that influences the figures."""
    return {
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "anyio": _dist_version("anyio"),
        "trio": _dist_version("trio"),
        "chrono-daemon": _dist_version("chrono-daemon"),
        "tickwork": _dist_version("tickwork"),
        "tickwork source": _tickwork_source(),
    }


def forget_loggers(prefix: str) -> int:
    """Drop the loggers named ``prefix...`` from ``logging``'s global registry.

    chrono-daemon creates each daemon's logger with ``getLogger().getChild(name)``, which
    registers it in the process-wide ``logging`` manager for good. Ten thousand per
    repetition would pile up and make every later run in the process slower (more live
    objects for the garbage collector to scan), whichever contender it belongs to. The
    benchmarks call this after such a run, outside the timed region, so every run starts
    from the same heap. Returns how many loggers were dropped.
    """
    registry = logging.Logger.manager.loggerDict
    names = [name for name in registry if name.startswith(prefix)]
    for name in names:
        del registry[name]
    return len(names)


@dataclass(frozen=True)
class Options:
    """Command-line options common to every benchmark script."""

    quick: bool
    reps: int
    warmup: int
    backends: tuple[str, ...]


def parse_args(description: str, argv: Sequence[str] | None = None) -> Options:
    """Parse ``--quick``, ``--versions``, ``--reps`` and ``--backend``.

    ``--versions`` prints the versions and exits.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 reps: a smoke run")
    parser.add_argument("--versions", action="store_true", help="print versions and exit")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 3 quick)")
    parser.add_argument(
        "--backend", choices=BACKENDS, action="append", help="only this backend (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.versions:
        for key, value in versions().items():
            print(f"{key}: {value}")
        raise SystemExit(0)
    reps = args.reps if args.reps is not None else (3 if args.quick else 5)
    if reps < 1:
        parser.error("--reps must be >= 1")
    backends = tuple(args.backend) if args.backend else BACKENDS
    return Options(quick=args.quick, reps=reps, warmup=1, backends=backends)


def print_header(title: str, options: Options, notes: Sequence[str] = ()) -> None:
    """Print the title, date, versions and run parameters."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {title}")
    print()
    print(f"run: {stamp}; {options.reps} reps (+{options.warmup} warm-up, discarded),")
    print(f"interleaved round-robin; {'QUICK smoke run' if options.quick else 'full sizes'}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    for note in notes:
        print(note)
    print()
    sys.stdout.flush()


@dataclass
class Case:
    """One contender in one configuration; ``run`` returns named measurements."""

    group: str
    backend: str
    contender: str
    run: Callable[[], dict[str, float]]
    samples: list[dict[str, float]] = field(default_factory=list[dict[str, float]])

    def median(self, metric: str) -> float:
        return statistics.median(sample[metric] for sample in self.samples)

    def paired_ratio(self, other: Case, metric: str) -> float:
        """Median over rounds of ``self / other`` for ``metric``, each round paired.

        Both cases ran in the same round, within seconds of each other, so the ratio of
        each pair cancels most of the machine's slow drifts in load; the median of those
        ratios is steadier than the ratio of the two medians on a noisy machine.
        """
        pairs = zip(self.samples, other.samples, strict=True)
        return statistics.median(mine[metric] / theirs[metric] for mine, theirs in pairs)

    def spread(self, metric: str) -> float:
        """(max - min) / median over the repetitions, as a fraction."""
        values = [sample[metric] for sample in self.samples]
        mid = statistics.median(values)
        return (max(values) - min(values)) / mid if mid else 0.0


def round_robin(cases: Sequence[Case], reps: int, warmup: int = 1) -> None:
    """Run every case once per round, ``warmup + reps`` rounds; keep the last ``reps``."""
    total = warmup + reps
    for round_no in range(total):
        shift = round_no % len(cases)
        order = [*cases[shift:], *cases[:shift]]
        started = now()
        for case in order:
            gc.collect()
            sample = case.run()
            if round_no >= warmup:
                case.samples.append(sample)
        label = "warm-up" if round_no < warmup else f"rep {round_no - warmup + 1}/{reps}"
        print(f"  [{label} done in {now() - started:.1f} s]", file=sys.stderr, flush=True)


def fmt_rate(value: float) -> str:
    """Items per second, human-sized."""
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def fmt_seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.1f} µs"


def fmt_ratio(value: float) -> str:
    return f"{value:.2f}x"


def fmt_spread(value: float) -> str:
    return f"±{value * 50:.0f}%"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown (pipe) table, so the output pastes into docs/benchmarks.md."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()
    sys.stdout.flush()
