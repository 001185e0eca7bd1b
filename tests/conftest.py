"""Shared pytest configuration: the throwaway-server fixtures (tests/servers.py), real hubs (tests/hubs.py)
and migrated SQLite templates for them (tests/migrated.py)."""

pytest_plugins = ["tests.servers", "tests.hubs", "tests.migrated"]
