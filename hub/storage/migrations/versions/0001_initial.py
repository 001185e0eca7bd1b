"""Initial schema: users, tokens, devices, entities, restore_states.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written by hand (frozen: it does not import the models, which will change); a test proves
that `upgrade heads` gives exactly `hub.storage.models`.

Until integrations owned their tables this revision also created `mqtt_discovery`; the MQTT
integration's own first revision (mqtt_0001) creates it now, and adopts the table a database
made by an older hub already has.
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        _str("id", 36, nullable=False),
        _str("name", 255, nullable=False),
        _str("password_hash", 255, nullable=False),
        _str("role", 16, nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'user', 'read-only')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )

    op.create_table(
        "tokens",
        _str("id", 36, nullable=False),
        _str("user_id", 36, nullable=False),
        _str("kind", 16, nullable=False),
        _str("label", 255),
        _str("token_hash", 64, nullable=False),
        _str("family_id", 36),
        _when("created_at"),
        _when("expires_at", nullable=True),
        _when("last_used_at", nullable=True),
        _when("revoked_at", nullable=True),
        sa.CheckConstraint("kind IN ('long_lived', 'refresh')", name=op.f("ck_tokens_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
    )
    op.create_index(op.f("ix_tokens_token_hash"), "tokens", ["token_hash"], unique=True)
    op.create_index(op.f("ix_tokens_user_id"), "tokens", ["user_id"], unique=False)
    op.create_index(op.f("ix_tokens_family_id"), "tokens", ["family_id"], unique=False)

    op.create_table(
        "devices",
        _str("id", 36, nullable=False),
        sa.Column("identifiers", _json(), nullable=False),
        sa.Column("connections", _json(), nullable=False),
        _str("integration", 64, nullable=False),
        _str("name", 255),
        _str("name_by_user", 255),
        _str("manufacturer", 255),
        _str("model", 255),
        _str("model_id", 255),
        _str("sw_version", 255),
        _str("hw_version", 255),
        _str("serial_number", 255),
        _str("suggested_area", 255),
        _str("area_id", 255),
        _str("configuration_url", 2048),
        _str("via_device_id", 36),
        _str("disabled_by", 64),
        _when("created_at"),
        _when("modified_at"),
        sa.ForeignKeyConstraint(
            ["via_device_id"],
            ["devices.id"],
            name=op.f("fk_devices_via_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )

    op.create_table(
        "entities",
        _str("id", 36, nullable=False),
        _str("entity_id", 255, nullable=False),
        _str("unique_id", 255, nullable=False),
        _str("platform", 64, nullable=False),
        _str("domain", 64, nullable=False),
        _str("device_id", 36),
        _str("name", 255),
        _str("original_name", 255),
        _str("icon", 255),
        _str("original_icon", 255),
        _str("device_class", 64),
        _str("original_device_class", 64),
        _str("unit_of_measurement", 64),
        _str("entity_category", 64),
        _str("disabled_by", 64),
        _str("hidden_by", 64),
        sa.Column("capabilities", _json(), nullable=True),
        _when("created_at"),
        _when("modified_at"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_entities_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_entities_entity_id")),
        sa.UniqueConstraint(
            "domain", "platform", "unique_id", name=op.f("uq_entities_domain_platform_unique_id")
        ),
    )
    op.create_index(op.f("ix_entities_device_id"), "entities", ["device_id"], unique=False)

    op.create_table(
        "restore_states",
        _str("entity_id", 255, nullable=False),
        _str("state", 255, nullable=False),
        sa.Column("attributes", _json(), nullable=False),
        _when("last_changed"),
        _when("last_updated"),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_restore_states")),
    )


def downgrade() -> None:
    op.drop_table("restore_states")
    op.drop_index(op.f("ix_entities_device_id"), table_name="entities")
    op.drop_table("entities")
    op.drop_table("devices")
    op.drop_index(op.f("ix_tokens_family_id"), table_name="tokens")
    op.drop_index(op.f("ix_tokens_user_id"), table_name="tokens")
    op.drop_index(op.f("ix_tokens_token_hash"), table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("users")
