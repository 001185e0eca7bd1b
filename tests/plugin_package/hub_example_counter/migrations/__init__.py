"""Alembic revisions of the counter's table; the hub finds `versions/` by convention."""
