"""HTTP ingest: device_api_keys (hashed, expiring, revocable keys devices post telemetry with).

Revision ID: http_ingest_0001
Revises:
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == integrations.http_ingest.models.

The base of the http_ingest branch. An older hub created the same table in the core's former
single chain (revision 0006_power); on such a database this revision adopts the table as it
is instead of creating it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "http_ingest_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("http_ingest",)
depends_on: str | Sequence[str] | None = None


def _made_by_an_older_hub(table: str) -> bool:
    if context.is_offline_mode():
        return False
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _made_by_an_older_hub("device_api_keys"):
        return
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
