"""Tenants and homes: every home's row carries its tenant and home, the old ones the default's.

Revision ID: 0009_tenancy
Revises: 0008_areas
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == hub.storage.models.

A database of a single-home hub becomes the default tenant's default home: both are made
here, every existing row is stamped with them, and every user becomes a member of the default
home with the role they had. Natural keys become unique per home (entity ids, area ids and
names, restore states). On PostgreSQL every such table gets row-level security (see
hub/storage/migrations/home_columns.py), and three `SECURITY DEFINER` functions answer what a
login, a token lookup and a user's homes need before a tenant is known, for one username, token
hash or user id only.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from hub.storage.migrations.home_columns import (
    DEFAULT_ID,
    ID_LENGTH,
    add_scope_columns,
    allow_owner,
    disable_rls,
    drop_scope_defaults,
    enable_home_rls,
    enable_tenant_rls,
    is_postgresql,
    refuse_other_homes,
)

revision: str = "0009_tenancy"
down_revision: str | Sequence[str] | None = "0008_areas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOME_TABLES = ("tokens", "areas", "devices", "entities", "restore_states", "audit_log")
LOGIN_FUNCTION = """
CREATE FUNCTION hub_login_user(username text)
RETURNS TABLE (id varchar, name varchar, password_hash varchar, role varchar, is_active boolean,
               tenant_id varchar)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
  SELECT u.id, u.name, u.password_hash, u.role, u.is_active, u.tenant_id
  FROM users u WHERE u.name = username
$$"""
TOKEN_FUNCTION = """
CREATE FUNCTION hub_token_scope(hash text)
RETURNS TABLE (tenant_id varchar, home_id varchar, user_id varchar)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
  SELECT t.tenant_id, t.home_id, t.user_id FROM tokens t WHERE t.token_hash = hash
$$"""

HOMES_FUNCTION = """
CREATE FUNCTION hub_user_homes(uid text)
RETURNS TABLE (tenant_id varchar, home_id varchar, role varchar)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
  SELECT m.tenant_id, m.home_id, m.role FROM home_members m WHERE m.user_id = uid ORDER BY m.home_id
$$"""
FUNCTIONS = ("hub_login_user(text)", "hub_token_scope(text)", "hub_user_homes(text)")


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID_LENGTH), nullable=False)


def upgrade() -> None:
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # the hub stores naive UTC on SQLite
    tenants = op.create_table(
        "tenants",
        _id("id"),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("plan", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended')", name=op.f("ck_tenants_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    homes = op.create_table(
        "homes",
        _id("id"),
        _id("tenant_id"),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("topic_root", sa.String(64), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_homes_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homes")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_homes_tenant_id_name")),
    )
    op.create_table(
        "home_members",
        _id("home_id"),
        _id("user_id"),
        _id("tenant_id"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'admin', 'user', 'read-only')", name=op.f("ck_home_members_role")),
        sa.ForeignKeyConstraint(["home_id"], ["homes.id"], name=op.f("fk_home_members_home_id_homes"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_home_members_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("home_id", "user_id", name=op.f("pk_home_members")),
    )
    op.create_index(op.f("ix_home_members_user_id"), "home_members", ["user_id"], unique=False)
    op.create_index(op.f("ix_home_members_tenant_id"), "home_members", ["tenant_id"], unique=False)
    op.bulk_insert(tenants, [{"id": DEFAULT_ID, "name": DEFAULT_ID, "plan": None, "status": "active",
                              "trial_ends_at": None, "created_at": now}])
    op.bulk_insert(homes, [{"id": DEFAULT_ID, "tenant_id": DEFAULT_ID, "name": DEFAULT_ID, "topic_root": "",
                            "time_zone": "UTC", "currency": "EUR", "created_at": now}])

    # Users: tenant-level; each becomes a member of the default home with the role they had.
    add_scope_columns("users", home=False)
    with op.batch_alter_table("users") as batch:
        drop_scope_defaults(batch, home=False)
        batch.create_index(op.f("ix_users_tenant_id"), ["tenant_id"], unique=False)
        batch.create_foreign_key(op.f("fk_users_tenant_id_tenants"), "tenants", ["tenant_id"], ["id"],
                                 ondelete="CASCADE")
    op.execute(sa.text("INSERT INTO home_members (home_id, user_id, tenant_id, role) "
                       "SELECT :d, id, tenant_id, role FROM users").bindparams(d=DEFAULT_ID))

    for table in HOME_TABLES:
        add_scope_columns(table)
    # The area foreign keys go first: areas' primary key becomes (home_id, id).
    for table in ("devices", "entities"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_area_id_areas", type_="foreignkey")
    with op.batch_alter_table("areas") as batch:
        drop_scope_defaults(batch)
        batch.drop_constraint("uq_areas_normalized_name", type_="unique")
        batch.drop_constraint("pk_areas", type_="primary")
        batch.create_primary_key("pk_areas", ["home_id", "id"])
        batch.create_unique_constraint(op.f("uq_areas_home_id_normalized_name"), ["home_id", "normalized_name"])
    with op.batch_alter_table("devices") as batch:
        drop_scope_defaults(batch)
        batch.create_index(op.f("ix_devices_home_id"), ["home_id"], unique=False)
        batch.create_foreign_key("fk_devices_area_id_areas", "areas", ["home_id", "area_id"], ["home_id", "id"])
    with op.batch_alter_table("entities") as batch:
        drop_scope_defaults(batch)
        batch.drop_constraint("uq_entities_entity_id", type_="unique")
        batch.drop_constraint("uq_entities_domain_platform_unique_id", type_="unique")
        batch.create_unique_constraint(op.f("uq_entities_home_id_entity_id"), ["home_id", "entity_id"])
        batch.create_unique_constraint(
            op.f("uq_entities_home_id_domain_platform_unique_id"), ["home_id", "domain", "platform", "unique_id"]
        )
        batch.create_foreign_key("fk_entities_area_id_areas", "areas", ["home_id", "area_id"], ["home_id", "id"])
    with op.batch_alter_table("restore_states") as batch:
        drop_scope_defaults(batch)
        batch.drop_constraint("pk_restore_states", type_="primary")
        batch.create_primary_key("pk_restore_states", ["home_id", "entity_id"])
    with op.batch_alter_table("tokens") as batch:
        drop_scope_defaults(batch)
        batch.create_index(op.f("ix_tokens_home_id"), ["home_id"], unique=False)
    with op.batch_alter_table("audit_log") as batch:
        drop_scope_defaults(batch)

    if not is_postgresql():
        return
    for table in HOME_TABLES:
        enable_home_rls(table)
    enable_tenant_rls("tenants", "id = current_setting('app.tenant_id', true)")
    for table in ("homes", "home_members", "users"):
        enable_tenant_rls(table)
    for table in ("tenants", "homes", "home_members", "users", "tokens"):
        allow_owner(table)
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    for function in (LOGIN_FUNCTION, TOKEN_FUNCTION, HOMES_FUNCTION):
        op.execute(function.format(schema=f'"{schema}"'))
    for signature in FUNCTIONS:  # granted to the application role by `hub db grant-app-role`
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")


def downgrade() -> None:
    for table in HOME_TABLES:
        refuse_other_homes(table)
    if is_postgresql():
        for signature in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {signature}")
        for table in (*HOME_TABLES, "tenants", "homes", "home_members", "users"):
            disable_rls(table)
    for table in ("devices", "entities"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_area_id_areas", type_="foreignkey")
    with op.batch_alter_table("areas") as batch:
        batch.drop_constraint("uq_areas_home_id_normalized_name", type_="unique")
        batch.drop_constraint("pk_areas", type_="primary")
        batch.create_primary_key("pk_areas", ["id"])
        batch.create_unique_constraint("uq_areas_normalized_name", ["normalized_name"])
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")
    with op.batch_alter_table("devices") as batch:
        batch.drop_index("ix_devices_home_id")
        batch.create_foreign_key("fk_devices_area_id_areas", "areas", ["area_id"], ["id"], ondelete="SET NULL")
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")
    with op.batch_alter_table("entities") as batch:
        batch.drop_constraint("uq_entities_home_id_entity_id", type_="unique")
        batch.drop_constraint("uq_entities_home_id_domain_platform_unique_id", type_="unique")
        batch.create_unique_constraint("uq_entities_entity_id", ["entity_id"])
        batch.create_unique_constraint("uq_entities_domain_platform_unique_id", ["domain", "platform", "unique_id"])
        batch.create_foreign_key("fk_entities_area_id_areas", "areas", ["area_id"], ["id"], ondelete="SET NULL")
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")
    with op.batch_alter_table("restore_states") as batch:
        batch.drop_constraint("pk_restore_states", type_="primary")
        batch.create_primary_key("pk_restore_states", ["entity_id"])
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_home_id")
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("home_id")
        batch.drop_column("tenant_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_tenant_id_tenants", type_="foreignkey")
        batch.drop_index("ix_users_tenant_id")
        batch.drop_column("tenant_id")
    op.drop_table("home_members")
    op.drop_table("homes")
    op.drop_table("tenants")
