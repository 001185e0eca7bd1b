"""The MQTT connection's status for operations: its /readyz check and its /metrics figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from integrations.mqtt.client import MqttClient

OK = "ok"


def readiness(client: MqttClient | None) -> dict[str, str]:
    """Return the `mqtt` check: "ok" while connected, else why not."""
    if client is None:
        return {"mqtt": "the MQTT integration is not running"}
    if not client.connected:
        settings = client.settings
        return {"mqtt": f"not connected to the MQTT broker at {settings.host}:{settings.port}"}
    return {"mqtt": OK}


def metrics(client: MqttClient | None) -> list[Metric]:
    """Return the connection state and the messages received since start."""
    if client is None:
        return []
    received = CounterMetricFamily("hub_integration_messages_received", "Messages received per integration.", labels=["integration"])
    received.add_metric(["mqtt"], client.messages_received)
    connected = GaugeMetricFamily("hub_mqtt_connected", "1 while connected to the MQTT broker.", value=1 if client.connected else 0)
    return [connected, received]
