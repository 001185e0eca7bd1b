"""Notifications and energy: persistent_notifications, energy_state.

Revision ID: 0007_energy
Revises: 0001
Create Date: 2026-11-24

Written by hand, frozen like 0001; a test proves migrations == hub.storage.models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_energy"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persistent_notifications",
        sa.Column("notification_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_persistent_notifications")),
    )
    op.create_table(
        "energy_state",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_energy_state")),
    )


def downgrade() -> None:
    op.drop_table("energy_state")
    op.drop_table("persistent_notifications")
