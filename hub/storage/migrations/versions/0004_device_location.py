"""Devices: a free-text location beside the area.

Revision ID: 0004_device_location
Revises: 0003_security
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == hub.storage.models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_device_location"
down_revision: str | Sequence[str] | None = "0003_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("location", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("location")
