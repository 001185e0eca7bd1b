"""Fixtures for HTTP ingestion tests: a real hub started from a config folder."""

