"""Alembic revisions of this integration's tables (see docs/integrations.md, "Persist data").

A package only so that setuptools ships the revision files; Alembic loads them by path.
"""
