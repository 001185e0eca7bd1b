"""A self-hosted home and IoT automation hub."""

__version__ = "0.1.0"

from hub.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
