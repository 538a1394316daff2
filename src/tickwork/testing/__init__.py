"""Testing kit: the channel conformance checks and the pytest plugin's fixtures."""

from __future__ import annotations

from ._check_channel import ChannelPair as ChannelPair
from ._check_channel import MakePair as MakePair
from ._check_channel import check_channel as check_channel
from ._wait import wait_all_blocked as wait_all_blocked

__all__ = ["ChannelPair", "MakePair", "check_channel", "wait_all_blocked"]
