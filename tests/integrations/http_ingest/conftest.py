"""Fixtures for HTTP ingestion tests: a real hub started from a config folder."""

from tests.plugins.conftest import start_hub  # noqa: F401
