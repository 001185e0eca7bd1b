"""Shared pytest configuration: the throwaway-server fixtures (tests/servers.py) and real hubs (tests/hubs.py)."""

pytest_plugins = ["tests.servers", "tests.hubs"]
