"""Shared pytest configuration: the throwaway-server fixtures (tests/servers.py), real hubs (tests/hubs.py)
and migrated SQLite templates for them (tests/migrated.py); a leaked child process is named with the test that
started it (tests/leaks.py)."""

pytest_plugins = ["tests.leaks", "tests.servers", "tests.hubs", "tests.migrated"]
