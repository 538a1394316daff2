"""``/metrics``: the supervisor's health and registered statistics, via prometheus_client.

A scrape captures the data on the event loop (the snapshot and each registered
source's statistics, cheap copies) and renders the exposition text in a worker
thread, so ten thousand daemons' worth of text never holds up a daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tickwork import DaemonHealth
from tickwork.hosting._monitor import STATES, HealthMonitor, HealthSummary
from tickwork.hosting._stats import FIELDS, StatsSample, collect_stats

__all__ = ["Scrape", "capture", "render"]


@final
@dataclass(frozen=True, slots=True)
class Scrape:
    """Everything one ``/metrics`` response reports, captured at one instant."""

    summary: HealthSummary
    snapshot: dict[str, DaemonHealth]
    samples: list[StatsSample]


def capture(monitor: HealthMonitor) -> Scrape:
    """Read the supervisor and the registered sources (on the event loop)."""
    summary, snapshot = monitor.evaluate()
    return Scrape(summary, snapshot, list(collect_stats(monitor.supervisor)))


@final
class _ScrapeCollector(Collector):
    """A prometheus_client collector over one captured :class:`Scrape`."""

    def __init__(self, scrape: Scrape) -> None:
        self._scrape = scrape

    def collect(self) -> Iterator[Metric]:
        scrape = self._scrape
        summary = scrape.summary
        yield GaugeMetricFamily(
            "tickwork_ready", "1 when /readyz answers 200, else 0", value=int(summary.ready)
        )
        per_state = GaugeMetricFamily("tickwork_daemons", "daemons per state", labels=["state"])
        for state in STATES:
            per_state.add_metric([state], summary.counts[state])
        yield per_state
        state = GaugeMetricFamily(
            "tickwork_daemon_state",
            "1 for each daemon's current state (one sample per daemon)",
            labels=["daemon", "state"],
        )
        restarts = CounterMetricFamily(
            "tickwork_daemon_restarts", "restarts of each daemon", labels=["daemon"]
        )
        uptime = GaugeMetricFamily(
            "tickwork_daemon_uptime_seconds",
            "clock seconds since a running daemon's on_start returned",
            labels=["daemon"],
        )
        for name, health in scrape.snapshot.items():
            state.add_metric([name, health.state], 1)
            restarts.add_metric([name], health.restart_count)
            if health.uptime is not None:
                uptime.add_metric([name], health.uptime)
        yield state
        yield restarts
        yield uptime
        yield from _source_families(scrape.samples)


def _source_families(samples: list[StatsSample]) -> Iterator[Metric]:
    for kind, stat_fields in FIELDS.items():
        mine = [s for s in samples if s.kind == kind]
        if not mine:
            continue
        labels = ["source"] if kind in ("channel", "outbox") else ["source", "endpoint"]
        for field in stat_fields:
            name = f"tickwork_{kind}_{field.name}"
            family = (
                CounterMetricFamily(name, field.help, labels=labels)
                if field.counter
                else GaugeMetricFamily(name, field.help, labels=labels)
            )
            for sample in mine:
                value = sample.values[field.name]
                if value is not None:
                    family.add_metric(_labels(sample, labels), value)
            yield family
        if kind != "channel":
            state = GaugeMetricFamily(
                f"tickwork_{kind}_state",
                "1 for the current state (Outbox state or ZeroMQ peer state)",
                labels=[*labels, "state"],
            )
            for sample in mine:
                if sample.state is not None:
                    state.add_metric([*_labels(sample, labels), sample.state], 1)
            yield state


def _labels(sample: StatsSample, labels: list[str]) -> list[str]:
    return [sample.source] if len(labels) == 1 else [sample.source, sample.endpoint or ""]


def render(scrape: Scrape) -> bytes:
    """The Prometheus text exposition of ``scrape`` (run it in a worker thread)."""
    registry = CollectorRegistry()
    registry.register(_ScrapeCollector(scrape))
    return generate_latest(registry)
