"""Relay: relay_commands (the lifecycle of each command).

Revision ID: 0006_power
Revises:
Create Date: 2026-11-24

Written by hand, frozen; a test proves migrations == integrations.relay.models.

The base of the relay branch. It kept its id from the core's former single chain, where it
branched from 0001 and also created http_ingest's `device_api_keys` (now http_ingest_0001),
so databases made by an older hub carry on from here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_power"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("relay",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relay_commands",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("entity_id", sa.String(255), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.Column("command", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("context_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_commands")),
    )
    op.create_index(
        op.f("ix_relay_commands_entity_id_created_at"), "relay_commands", ["entity_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_relay_commands_entity_id_created_at"), table_name="relay_commands")
    op.drop_table("relay_commands")
