"""Prometheus metrics of one hub: events, states, services, automations, recorder, MQTT, WebSocket.

Almost everything is read at scrape time from plain counters the hub's parts already keep
(a custom collector), so the hot paths pay nothing for metrics. Two things are counted here:
events per type (one match-all @callback doing a dict increment) and service calls with their
latency (through the service registry's call_observer).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector

from hub import __version__
from hub.core.bus import EVENT_STATE_CHANGED, MATCH_ALL, Event, callback
from hub.ops import sources

if TYPE_CHECKING:
    from hub.core.hub import Hub

__all__ = ["CONTENT_TYPE_LATEST", "HubMetrics", "attach", "metrics_of"]

# Event types are free-form (any integration or user may fire one): past this many distinct
# types the rest are counted together so a misbehaving client cannot grow /metrics forever.
MAX_EVENT_TYPES = 500
OTHER_EVENT_TYPE = "_other"
SERVICE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_METRICS: weakref.WeakKeyDictionary[Hub, HubMetrics] = weakref.WeakKeyDictionary()


class HubMetrics:
    """The metrics registry of one hub and the few counters it keeps itself."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.events: dict[str, int] = {}
        # Set by the web app: returns the WebSocket counters (clients, dropped, slow disconnects).
        self.websocket_stats: Callable[[], Any] | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self._service_calls = Counter(
            "hub_service_calls",
            "Service calls by domain, service and outcome (ok or error).",
            ("domain", "service", "outcome"),
            registry=self.registry,
        )
        self._service_seconds = Histogram(
            "hub_service_call_duration_seconds",
            "How long service handlers took, by domain and service.",
            ("domain", "service"),
            buckets=SERVICE_BUCKETS,
            registry=self.registry,
        )
        # Label lookups take a lock in prometheus_client; a service call reuses its children.
        self._children: dict[tuple[str, str, bool], tuple[Any, Any]] = {}
        self.registry.register(_HubCollector(self))
        ProcessCollector(registry=self.registry)
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Start counting events and service calls."""
        if self._unsubscribe is None:
            self._unsubscribe = self.hub.bus.listen(MATCH_ALL, self._count_event)
            self.hub.services.call_observer = self._observe_call

    def stop(self) -> None:
        """Stop counting (the figures so far stay readable)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.hub.services.call_observer == self._observe_call:
            self.hub.services.call_observer = None

    @callback
    def _count_event(self, event: Event) -> None:
        events = self.events
        event_type = event.event_type
        count = events.get(event_type)
        if count is not None:
            events[event_type] = count + 1
        elif len(events) < MAX_EVENT_TYPES:
            events[event_type] = 1
        else:
            events[OTHER_EVENT_TYPE] = events.get(OTHER_EVENT_TYPE, 0) + 1

    def _observe_call(self, domain: str, service: str, seconds: float, failed: bool) -> None:
        key = (domain, service, failed)
        children = self._children.get(key)
        if children is None:
            outcome = "error" if failed else "ok"
            children = (
                self._service_calls.labels(domain, service, outcome),
                self._service_seconds.labels(domain, service),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)


class _HubCollector:
    """Read the hub's own counters when Prometheus scrapes."""

    def __init__(self, metrics: HubMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        # Describing would run collect() at registration; nothing clashes, so skip it.
        return []

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
        yield from _automation_metrics(hub)
        yield from _recorder_metrics(hub)
        yield from _mqtt_metrics(hub)
        if metrics.websocket_stats is not None:
            yield from _websocket_metrics(metrics.websocket_stats())


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
    metrics = _METRICS.get(hub)
    if metrics is None:
        metrics = _METRICS[hub] = HubMetrics(hub)
        metrics.start()
        hub.on_stop(metrics.stop)
    return metrics


def metrics_of(hub: Hub) -> HubMetrics | None:
    """Return the hub's metrics, or None when none were attached."""
    return _METRICS.get(hub)
