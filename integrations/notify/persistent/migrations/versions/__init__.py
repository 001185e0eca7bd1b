"""Alembic revision files (see ../__init__.py for why this is a package)."""
