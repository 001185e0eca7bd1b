"""Persistent notifications: persistent_notifications (shown in the web UI until dismissed).

Revision ID: persistent_notification_0001
Revises:
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == integrations.notify.persistent.models.

The base of the persistent_notification branch. An older hub created the same table in the
core's former single chain (revision 0007_energy); on such a database this revision adopts
the table as it is instead of creating it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "persistent_notification_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("persistent_notification",)
depends_on: str | Sequence[str] | None = None


def _made_by_an_older_hub(table: str) -> bool:
    if context.is_offline_mode():
        return False
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _made_by_an_older_hub("persistent_notifications"):
        return
    op.create_table(
        "persistent_notifications",
        sa.Column("notification_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_persistent_notifications")),
    )


def downgrade() -> None:
    op.drop_table("persistent_notifications")
