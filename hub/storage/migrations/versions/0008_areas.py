"""Areas: the area registry, and devices' and entities' area_id pointing at real areas.

Revision ID: 0008_areas
Revises: 0004_device_location
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == hub.storage.models.

Devices had a free-text `area_id` before there were areas. Each distinct value a device has
becomes an area of that id (named after it), so no user's placement is lost when the column
starts pointing at the `areas` table.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_areas"
down_revision: str | Sequence[str] | None = "0004_device_location"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _str(name: str, length: int, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _normalized(name: str) -> str:
    # As hub.registry.areas.normalize_name at the time of writing (frozen here).
    import unicodedata

    return unicodedata.normalize("NFKD", name).casefold().replace(" ", "")


def upgrade() -> None:
    areas = op.create_table(
        "areas",
        _str("id", 255, nullable=False),
        _str("name", 255, nullable=False),
        _str("normalized_name", 255, nullable=False),
        sa.Column("aliases", _json(), nullable=False),
        _str("floor_id", 255),
        _str("humidity_entity_id", 255),
        _str("temperature_entity_id", 255),
        _str("icon", 255),
        sa.Column("labels", _json(), nullable=False),
        _str("picture", 2048),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
        sa.UniqueConstraint("normalized_name", name=op.f("uq_areas_normalized_name")),
    )
    bind = op.get_bind()
    used = bind.execute(sa.text("SELECT DISTINCT area_id FROM devices WHERE area_id IS NOT NULL")).scalars()
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # the hub stores naive UTC on SQLite
    rows, taken = [], set()
    for area_id in used:
        normalized = _normalized(area_id)
        if normalized in taken:
            normalized = f"{normalized}_{area_id}"
        taken.add(normalized)
        rows.append(
            {"id": area_id, "name": area_id, "normalized_name": normalized, "aliases": [], "labels": [],
             "created_at": now, "modified_at": now}
        )
    if rows:
        op.bulk_insert(areas, rows)
    with op.batch_alter_table("devices") as batch:
        batch.create_index(op.f("ix_devices_area_id"), ["area_id"], unique=False)
        batch.create_foreign_key(
            op.f("fk_devices_area_id_areas"), "areas", ["area_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("entities") as batch:
        batch.add_column(_str("area_id", 255))
        batch.create_index(op.f("ix_entities_area_id"), ["area_id"], unique=False)
        batch.create_foreign_key(
            op.f("fk_entities_area_id_areas"), "areas", ["area_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("entities") as batch:
        batch.drop_constraint(op.f("fk_entities_area_id_areas"), type_="foreignkey")
        batch.drop_index(op.f("ix_entities_area_id"))
        batch.drop_column("area_id")
    with op.batch_alter_table("devices") as batch:
        batch.drop_constraint(op.f("fk_devices_area_id_areas"), type_="foreignkey")
        batch.drop_index(op.f("ix_devices_area_id"))
    op.drop_table("areas")
