"""MQTT: mqtt_discovery (the last retained discovery config of each topic).

Revision ID: mqtt_0001
Revises:
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == integrations.mqtt.models.

The base of the mqtt branch. An older hub created the same table in the core's initial
revision (0001); on such a database this revision adopts the table as it is instead of
creating it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "mqtt_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("mqtt",)
depends_on: str | Sequence[str] | None = None


def _made_by_an_older_hub(table: str) -> bool:
    if context.is_offline_mode():
        return False
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _made_by_an_older_hub("mqtt_discovery"):
        return
    op.create_table(
        "mqtt_discovery",
        sa.Column("discovery_topic", sa.String(1024), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("discovery_id", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("discovery_topic", name=op.f("pk_mqtt_discovery")),
    )


def downgrade() -> None:
    op.drop_table("mqtt_discovery")
