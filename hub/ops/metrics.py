"""Prometheus metrics of one hub: events, states, services, automations, recorder, MQTT, WebSocket.

Almost everything is read at scrape time from plain counters the hub's parts already keep
(a custom collector), so the hot paths pay nothing for metrics. Two things are counted here:
events per type (one match-all @callback doing a dict increment) and service calls with their
latency (through the service registry's call_observer).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

from hub.core.runtime import HubKey
from hub import __version__
from hub.core.bus import EVENT_STATE_CHANGED, MAX_COUNTED_EVENT_TYPES
from hub.ops import sources
from hub.ops.exposition import render

if TYPE_CHECKING:
    from hub.core.hub import Hub

__all__ = ["CONTENT_TYPE_LATEST", "HubMetrics", "attach", "metrics_of"]

# Event types are free-form (any integration or user may fire one): past this many distinct
# types the rest are counted together so a misbehaving client cannot grow /metrics forever.
MAX_EVENT_TYPES = MAX_COUNTED_EVENT_TYPES
SERVICE_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0)
# Per service: [ok calls, failed calls, seconds summed, one count per bucket and +Inf].
_OK, _FAILED, _SUM, _BUCKETS = 0, 1, 2, 3

METRICS: HubKey[HubMetrics] = HubKey("ops.metrics")


class HubMetrics:
    """The metrics registry of one hub and the few counters it keeps itself."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # Set by the web app: returns the WebSocket counters (clients, dropped, slow disconnects).
        self.websocket_stats: Callable[[], Any] | None = None
        # Plain lists, not prometheus_client metrics: those take a lock per update and cost a
        # service call about 30 µs; a list update costs well under one.
        self.service_calls: dict[tuple[str, str], list[float]] = {}
        self._collectors = [_HubCollector(self), ProcessCollector(registry=None)]

    @property
    def events(self) -> dict[str, int]:
        """Return the events fired per type, as the bus counts them (no listener needed)."""
        return self.hub.bus.counts

    def start(self) -> None:
        """Start timing service calls (the bus counts events by itself)."""
        self.hub.services.call_observer = self._observe_call

    def stop(self) -> None:
        """Stop timing service calls (the figures so far stay readable)."""
        if self.hub.services.call_observer == self._observe_call:
            self.hub.services.call_observer = None

    def _observe_call(self, domain: str, service: str, seconds: float, failed: bool) -> None:
        stats = self.service_calls.get((domain, service))
        if stats is None:
            stats = self.service_calls[(domain, service)] = [0, 0, 0.0] + [0] * (len(SERVICE_BUCKETS) + 1)
        stats[_FAILED if failed else _OK] += 1
        stats[_SUM] += seconds
        stats[_BUCKETS + bisect_left(SERVICE_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        """Return every metric family."""
        for collector in self._collectors:
            yield from collector.collect()

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return render(self.collect())


class _HubCollector:
    """Read the hub's own counters when Prometheus scrapes."""

    def __init__(self, metrics: HubMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        hub = metrics.hub
        info = GaugeMetricFamily("hub_info", "The hub's version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily("hub_running", "1 while the hub is running.", value=1 if hub.is_running else 0)
        events = CounterMetricFamily("hub_events", "Events fired on the bus, by type.", labels=["event_type"])
        for event_type, count in sorted(metrics.events.items()):
            events.add_metric([event_type], count)
        yield events
        yield CounterMetricFamily(
            "hub_state_changes", "State changes (state_changed events).", value=metrics.events.get(EVENT_STATE_CHANGED, 0)
        )
        yield GaugeMetricFamily("hub_entities", "Entities with a state.", value=len(hub.states))
        yield from _service_metrics(metrics.service_calls)
        yield from _automation_metrics(hub)
        yield from _recorder_metrics(hub)
        yield from _mqtt_metrics(hub)
        if metrics.websocket_stats is not None:
            yield from _websocket_metrics(metrics.websocket_stats())


def _service_metrics(service_calls: dict[tuple[str, str], list[float]]) -> Iterator[Metric]:
    calls = CounterMetricFamily(
        "hub_service_calls", "Service calls by domain, service and outcome (ok or error).", labels=["domain", "service", "outcome"]
    )
    seconds = HistogramMetricFamily(
        "hub_service_call_duration_seconds", "How long service handlers took, by domain and service.", labels=["domain", "service"]
    )
    bounds = [floatToGoString(b) for b in SERVICE_BUCKETS] + ["+Inf"]
    for (domain, service), stats in sorted(service_calls.items()):
        if stats[_OK]:
            calls.add_metric([domain, service, "ok"], stats[_OK])
        if stats[_FAILED]:
            calls.add_metric([domain, service, "error"], stats[_FAILED])
        cumulative, buckets = 0.0, []
        for bound, count in zip(bounds, stats[_BUCKETS:], strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        seconds.add_metric([domain, service], buckets, stats[_SUM])
    yield calls
    yield seconds


def _automation_metrics(hub: Hub) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "hub_automation_runs", "Finished automation and script runs, by domain and outcome.", labels=["domain", "outcome"]
    )
    errors = CounterMetricFamily("hub_automation_errors", "Automation and script runs that ended in an error.", labels=["domain"])
    error_counts: dict[str, int] = {}
    for (domain, outcome), count in sorted(sources.trace_outcomes_of(hub).items()):
        runs.add_metric([domain, outcome], count)
        if outcome == "error":
            error_counts[domain] = error_counts.get(domain, 0) + count
    for domain, count in error_counts.items():
        errors.add_metric([domain], count)
    yield runs
    yield errors


def _recorder_metrics(hub: Hub) -> Iterator[Metric]:
    recorder = sources.recorder_of(hub)
    if recorder is None:
        return
    spool = recorder.spool
    yield GaugeMetricFamily("hub_recorder_queue_depth", "State changes waiting to be batched.", value=recorder.queue_depth)
    yield GaugeMetricFamily("hub_recorder_spool_points", "Points in the on-disk spool, not yet in the backend.", value=spool.points)
    yield GaugeMetricFamily("hub_recorder_spool_bytes", "Size of the on-disk spool.", value=spool.size)
    yield CounterMetricFamily(
        "hub_recorder_spool_dropped_points", "Points dropped because the spool hit its size limit.", value=spool.dropped_points
    )
    yield CounterMetricFamily("hub_recorder_written_points", "Points stored in the history backend.", value=recorder.written_points)
    yield SummaryMetricFamily(
        "hub_recorder_write_duration_seconds",
        "Time the history backend took per stored batch.",
        count_value=recorder.write_count,
        sum_value=recorder.write_seconds,
    )
    up = GaugeMetricFamily("hub_recorder_backend_up", "1 when the last history write succeeded.", labels=["backend"])
    up.add_metric([recorder.backend.name], 0 if recorder.last_error else 1)
    yield up


def _mqtt_metrics(hub: Hub) -> Iterator[Metric]:
    client = sources.mqtt_client_of(hub)
    received = CounterMetricFamily(
        "hub_integration_messages_received", "Messages received per integration.", labels=["integration"]
    )
    if client is not None:
        received.add_metric(["mqtt"], client.messages_received)
        yield GaugeMetricFamily("hub_mqtt_connected", "1 while connected to the MQTT broker.", value=1 if client.connected else 0)
    yield received


def _websocket_metrics(stats: Any) -> Iterator[Metric]:
    yield GaugeMetricFamily("hub_websocket_clients", "Connected WebSocket API clients.", value=stats.clients)
    yield CounterMetricFamily(
        "hub_websocket_dropped_messages", "Messages dropped when a slow client was disconnected.", value=stats.dropped_messages
    )
    yield CounterMetricFamily(
        "hub_websocket_slow_disconnects", "Clients disconnected for not reading fast enough.", value=stats.slow_disconnects
    )


def attach(hub: Hub) -> HubMetrics:
    """Create the hub's metrics and start counting (once per hub)."""
    metrics = hub.runtime.get(METRICS)
    if metrics is None:
        metrics = hub.runtime[METRICS] = HubMetrics(hub)
        metrics.start()
        hub.on_stop(metrics.stop)
    return metrics


def metrics_of(hub: Hub) -> HubMetrics | None:
    """Return the hub's metrics, or None when none were attached."""
    return hub.runtime.get(METRICS)
