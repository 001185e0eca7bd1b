"""device_api_keys rows belong to a home: tenant_id and home_id, the existing rows the default home's.

Revision ID: http_ingest_0003_tenancy
Revises: http_ingest_0002
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == the integration's models. Keys become
unique per home; on PostgreSQL the table gets row-level security (home_columns.py).
"""

from collections.abc import Sequence

from hub.storage.migrations.home_columns import make_home_owned, undo_home_owned

revision: str = "http_ingest_0003_tenancy"
down_revision: str | Sequence[str] | None = "http_ingest_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    make_home_owned("device_api_keys", index=True)


def downgrade() -> None:
    undo_home_owned("device_api_keys", index=True)
