"""Persisted registries (devices, entities), restore states and the MQTT discovery cache.

Import from the submodules: `hub.registry.devices`, `hub.registry.entities`,
`hub.registry.restore`, `hub.registry.discovery`, `hub.registry.util`.
"""
