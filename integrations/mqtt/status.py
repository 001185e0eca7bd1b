"""The MQTT connection's status for operations: its /readyz check and its /metrics figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from integrations.mqtt.broker import EmbeddedBroker
    from integrations.mqtt.client import MqttClient

OK = "ok"


def readiness(client: MqttClient | None, broker: EmbeddedBroker | None = None) -> dict[str, str]:
    """Return the `mqtt` check: "ok" while connected, else why not; and the embedded broker's."""
    if client is None:
        return {"mqtt": "the MQTT integration is not running"}
    checks: dict[str, str] = {}
    if broker is not None:
        checks["mqtt_broker"] = (
            OK if broker.running else f"the embedded MQTT broker is restarting (it exited with code {broker.last_exit})"
        )
    if not client.connected:
        settings = client.settings
        checks["mqtt"] = f"not connected to the MQTT broker at {settings.host}:{settings.port}"
    else:
        checks["mqtt"] = OK
    return checks


def metrics(client: MqttClient | None, broker: EmbeddedBroker | None = None) -> list[Metric]:
    """Return the connection state and the messages received since start (and the broker's restarts)."""
    if client is None:
        return []
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415 - at scrape time, not at start

    received = CounterMetricFamily("hub_integration_messages_received", "Messages received per integration.", labels=["integration"])
    received.add_metric(["mqtt"], client.messages_received)
    connected = GaugeMetricFamily("hub_mqtt_connected", "1 while connected to the MQTT broker.", value=1 if client.connected else 0)
    found: list[Metric] = [connected, received]
    if broker is not None:
        found.append(CounterMetricFamily("hub_mqtt_broker_restarts", "Restarts of the embedded MQTT broker.", value=broker.restarts))
    return found
