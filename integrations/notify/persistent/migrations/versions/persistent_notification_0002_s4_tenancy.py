"""persistent_notifications rows belong to a home: tenant_id and home_id, the existing rows the default home's.

Revision ID: notify_0002_tenancy
Revises: persistent_notification_0001
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == the integration's models. Keys become
unique per home; on PostgreSQL the table gets row-level security (home_columns.py).
"""

from collections.abc import Sequence

from hub.storage.migrations.home_columns import make_home_owned, undo_home_owned

revision: str = "notify_0002_tenancy"
down_revision: str | Sequence[str] | None = "persistent_notification_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    make_home_owned("persistent_notifications", primary=("notification_id",))


def downgrade() -> None:
    undo_home_owned("persistent_notifications", primary=("notification_id",))
