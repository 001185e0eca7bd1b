"""Fixtures for relay tests: the MQTT test fixtures (real Mosquitto, device-side client)."""

from tests.integrations.mqtt.conftest import device, prefix, start_mqtt_hub  # noqa: F401
