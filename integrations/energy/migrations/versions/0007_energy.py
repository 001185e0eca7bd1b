"""Energy: energy_state (totals, last readings and periods kept across restarts).

Revision ID: 0007_energy
Revises:
Create Date: 2026-11-24

Written by hand, frozen; a test proves migrations == integrations.energy.models.

The base of the energy branch. It kept its id from the core's former single chain, where it
branched from 0001 and also created `persistent_notifications` (now
persistent_notification_0001), so databases made by an older hub carry on from here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_energy"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("energy",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "energy_state",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_energy_state")),
    )


def downgrade() -> None:
    op.drop_table("energy_state")
