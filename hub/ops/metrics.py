"""Prometheus metrics of one hub: events, states, services, WebSocket, and each integration's figures.

Almost everything is read at scrape time from plain counters the hub's parts already keep
(a custom collector), so the hot paths pay nothing for metrics. Two things are counted here:
events per type (one match-all @callback doing a dict increment) and service calls with their
latency (through the service registry's call_observer). Integrations add their own figures
(MQTT connection, recorder backlog, automation runs) through the `collect_metrics` hook.
prometheus_client (~5 MB and 70 modules) is imported with the first scrape, not at start.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hub import __version__
from hub.core.bus import EVENT_STATE_CHANGED, MAX_COUNTED_EVENT_TYPES
from hub.core.runtime import HubKey
from hub.ops.exposition import go_float, render

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from hub.core.hub import Hub

__all__ = ["HubMetrics", "attach", "metrics_of"]

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
        self._collectors: list[Any] | None = None  # made at the first scrape

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
        if self._collectors is None:
            from prometheus_client.process_collector import ProcessCollector

            self._collectors = [_HubCollector(self), ProcessCollector(registry=None)]
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
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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
        yield from _merged([*_shared_families(), *_integration_metrics(hub)])
        if metrics.websocket_stats is not None:
            yield from _websocket_metrics(metrics.websocket_stats())


def _service_metrics(service_calls: dict[tuple[str, str], list[float]]) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    calls = CounterMetricFamily(
        "hub_service_calls", "Service calls by domain, service and outcome (ok or error).", labels=["domain", "service", "outcome"]
    )
    seconds = HistogramMetricFamily(
        "hub_service_call_duration_seconds", "How long service handlers took, by domain and service.", labels=["domain", "service"]
    )
    bounds = [go_float(b) for b in SERVICE_BUCKETS] + ["+Inf"]
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


def _shared_families() -> list[Metric]:
    from prometheus_client.core import CounterMetricFamily

    # Families any integration may add a sample to; listed (empty) even when none does.
    return [CounterMetricFamily("hub_integration_messages_received", "Messages received per integration.", labels=["integration"])]


def _integration_metrics(hub: Hub) -> list[Metric]:
    if hub.plugins is None:
        return []
    return [family for families in hub.plugins.hook.collect_metrics(hub=hub) for family in families or ()]


def _merged(families: list[Metric]) -> Iterator[Metric]:
    """Return one family per name, with the samples of every family of that name."""
    from prometheus_client.core import Metric

    by_name: dict[str, Metric] = {}
    for family in families:
        known = by_name.get(family.name)
        if known is None:
            by_name[family.name] = family
            continue
        merged = Metric(known.name, known.documentation, known.type, known.unit)
        merged.samples = [*known.samples, *family.samples]
        by_name[family.name] = merged
    yield from by_name.values()


def _websocket_metrics(stats: Any) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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
