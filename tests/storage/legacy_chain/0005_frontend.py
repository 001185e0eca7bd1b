"""Web UI: frontend_charts (saved history charts).

Revision ID: 0005_frontend
Revises: 0001
Create Date: 2026-11-23

Written by hand, frozen like 0001; a test proves migrations == hub.storage.models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_frontend"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "frontend_charts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("config", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frontend_charts")),
        sa.UniqueConstraint("name", name=op.f("uq_frontend_charts_name")),
    )


def downgrade() -> None:
    op.drop_table("frontend_charts")
