"""Persisted registries (devices, entities) and restore states.

Import from the submodules: `hub.registry.devices`, `hub.registry.entities`,
`hub.registry.restore`, `hub.registry.util`. (The MQTT discovery cache is the MQTT
integration's: `integrations.mqtt.cache`.)
"""
