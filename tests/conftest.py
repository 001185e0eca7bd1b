"""Shared pytest configuration; the throwaway-server fixtures live in tests/servers.py."""

pytest_plugins = ["tests.servers"]
