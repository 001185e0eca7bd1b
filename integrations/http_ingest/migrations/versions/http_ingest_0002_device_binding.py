"""HTTP ingest: each device API key belongs to one device, with a backfill window.

Revision ID: http_ingest_0002
Revises: http_ingest_0001
Create Date: 2027-01-10

Written by hand, frozen; a test proves migrations == integrations.http_ingest.models.

Keys made before have no device: the first request with such a key binds it to the device
it names (or to the key's name), and from then on it writes that device's entities only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "http_ingest_0002"
down_revision: str | Sequence[str] | None = "http_ingest_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_api_keys") as batch:
        batch.add_column(sa.Column("device", sa.String(255), nullable=True))
        batch.add_column(sa.Column("backfill_days", sa.Float(), nullable=False, server_default="7"))


def downgrade() -> None:
    with op.batch_alter_table("device_api_keys") as batch:
        batch.drop_column("backfill_days")
        batch.drop_column("device")
