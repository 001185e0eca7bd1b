"""Descriptions of the built-in services, one services.yaml-format file per domain (read by hub.api.service_info)."""
