"""Security: the signing key leaves the database; revoked sessions, failed logins, IP bans, audit reasons.

Revision ID: 0003_security
Revises: 0002_api
Create Date: 2027-01-10

Written by hand, frozen; a test proves migrations == hub.storage.models.

`auth_keys` held the JWT signing key in plain text: anyone who could read the database could
sign tokens. The key now lives in a 0600 file of the data dir; the table is dropped (with the
old key: access tokens signed by it stop working, and clients get new ones with their
refresh tokens, which stay valid).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_security"
down_revision: str | Sequence[str] | None = "0002_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("auth_keys")
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("reason", sa.String(512), nullable=True))
        batch.add_column(sa.Column("context_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("parent_context_id", sa.String(36), nullable=True))
    op.create_table(
        "auth_revocations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_revocations")),
    )
    op.create_index(op.f("ix_auth_revocations_revoked_at"), "auth_revocations", ["revoked_at"], unique=False)
    op.create_table(
        "auth_login_failures",
        sa.Column("key", sa.String(327), nullable=False),
        sa.Column("account", sa.String(255), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_login_failures")),
    )
    op.create_index(op.f("ix_auth_login_failures_account"), "auth_login_failures", ["account"], unique=False)
    op.create_table(
        "auth_ip_bans",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("banned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_auth_ip_bans")),
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("parent_context_id")
        batch.drop_column("context_id")
        batch.drop_column("reason")
    op.drop_table("auth_ip_bans")
    op.drop_index(op.f("ix_auth_login_failures_account"), table_name="auth_login_failures")
    op.drop_table("auth_login_failures")
    op.drop_index(op.f("ix_auth_revocations_revoked_at"), table_name="auth_revocations")
    op.drop_table("auth_revocations")
    op.create_table(
        "auth_keys",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_auth_keys")),
    )
