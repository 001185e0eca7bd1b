"""Power integrations: relay_commands (command lifecycle) and device_api_keys.

Revision ID: 0006_power
Revises: 0001
Create Date: 2026-11-24

Written by hand, frozen like 0001; a test proves migrations == hub.storage.models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_power"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
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
    op.create_table(
        "device_api_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_device_api_keys_key_hash")),
    )


def downgrade() -> None:
    op.drop_table("device_api_keys")
    op.drop_index(op.f("ix_relay_commands_entity_id_created_at"), table_name="relay_commands")
    op.drop_table("relay_commands")
