"""An intermediate parent for the orphan test, run as a script (never imported by pytest).

``python parent_script.py BACKEND``: supervises one ProcessDaemon, prints the child's
pid once it is ready, then waits to be killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

import tickwork
from tickwork.cluster import ProcessDaemon


async def main() -> None:
    here = str(Path(__file__).parent)
    child = ProcessDaemon(
        "targets:idle", "orphan", env={"PYTHONPATH": here}, heartbeat_interval=0.1
    )
    async with tickwork.Supervisor() as sup:
        sup.add(child)
        await sup.wait_all_started()
        print(child.pid, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1])
