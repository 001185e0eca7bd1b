"""Relay: commands beyond on/off/toggle (parameters, the confirming state) and reads by device.

Revision ID: relay_0002_parameters
Revises: 0006_power
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == integrations.relay.models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "relay_0002_parameters"
down_revision: str | Sequence[str] | None = "0006_power"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relay_commands") as batch:
        batch.add_column(sa.Column("parameters", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
        batch.add_column(sa.Column("new_state", sa.String(255), nullable=True))
    op.create_index(
        op.f("ix_relay_commands_device_id_created_at"), "relay_commands", ["device_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_relay_commands_device_id_created_at"), table_name="relay_commands")
    with op.batch_alter_table("relay_commands") as batch:
        batch.drop_column("new_state")
        batch.drop_column("parameters")
