"""Alembic migrations of the hub's database.

This directory is Alembic's script location; `hub.storage.engine.migrate()` runs it in code.
`versions/` holds the core's revisions; the integrations that keep tables add their own
version folders (`<integration>/migrations/versions/`), one branch each.
It is a regular package (as is `versions/`) only so that setuptools' package discovery ships
`env.py` and the revision files in wheels and sdists; `script.py.mako` and `alembic.ini` ship
as package data. Alembic itself loads these files by path and ignores `__init__.py`.
Nothing should import `hub.storage.migrations.env`: it only runs inside Alembic.
"""
