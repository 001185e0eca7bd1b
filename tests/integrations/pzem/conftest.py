"""Fixtures for PZEM tests: the real-hub starter and the MQTT fixtures."""

from tests.integrations.mqtt.conftest import device, prefix, start_mqtt_hub  # noqa: F401
