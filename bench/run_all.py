"""Run every benchmark script in bench/, one process each (what ``make bench`` calls).

The three core benchmarks run first, in this order, then any other ``bench_*.py`` in
this directory (alphabetically). Arguments (``--quick``, ``--reps N``, ``--backend B``)
are passed through to every script. Exit status is non-zero if any script fails.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _harness import versions

CORE = ("bench_channel.py", "bench_simclock.py", "bench_daemons.py")


def scripts(here: Path) -> list[Path]:
    extra = sorted(p.name for p in here.glob("bench_*.py") if p.name not in CORE)
    return [here / name for name in (*CORE, *extra)]


def main() -> int:
    args = sys.argv[1:]
    if "--versions" in args:
        for key, value in versions().items():
            print(f"{key}: {value}")
        return 0
    here = Path(__file__).resolve().parent
    failed: list[str] = []
    for script in scripts(here):
        print(f"\n=== {script.name} {' '.join(args)}\n", flush=True)
        result = subprocess.run([sys.executable, str(script), *args], check=False)
        if result.returncode:
            failed.append(f"{script.name} (exit {result.returncode})")
    if failed:
        print("\nFAILED: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
