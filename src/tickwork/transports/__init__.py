"""Transports that carry tickwork channels between processes and hosts.

Each transport is a subpackage with its own optional extra, imported explicitly:
``from tickwork.transports.zmq import open_zmq_send`` (``pip install tickwork[zmq]``).
"""

from __future__ import annotations

__all__: list[str] = []
