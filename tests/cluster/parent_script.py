"""An intermediate parent for the orphan tests, run as a script (never imported by pytest).

``python parent_script.py BACKEND [PARENT_TIMEOUT FIFO]``: supervises one ProcessDaemon
(``targets:idle``, or ``targets:beats`` writing to ``FIFO`` when given), prints the
child's pid once it is ready, then waits to be killed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

import tickwork
from tickwork.cluster import ProcessDaemon

HEARTBEAT = 0.1


async def main(argv: list[str]) -> None:
    here = str(Path(__file__).parent)
    options: dict[str, Any] = {"env": {"PYTHONPATH": here}, "heartbeat_interval": HEARTBEAT}
    if len(argv) > 2:
        options["parent_timeout"] = float(argv[2])
        child = ProcessDaemon("targets:beats", argv[3], **options)
    else:
        child = ProcessDaemon("targets:idle", "orphan", **options)
    async with tickwork.Supervisor() as sup:
        sup.add(child)
        await sup.wait_all_started()
        print(child.pid, flush=True)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(main, sys.argv, backend=sys.argv[1])
