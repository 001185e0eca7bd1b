"""A self-hosted home and IoT automation hub."""

__version__ = "0.1.0"
