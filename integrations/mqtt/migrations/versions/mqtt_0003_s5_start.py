"""mqtt_discovery keeps each config as validated, with the schemas' fingerprint it was validated by.

Revision ID: mqtt_0003_validated
Revises: mqtt_0002_tenancy
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == integrations.mqtt.models. Both columns are
nullable: a row without them (written by an older hub) is validated again at the next start.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "mqtt_0003_validated"
down_revision: str | Sequence[str] | None = "mqtt_0002_tenancy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mqtt_discovery") as batch:
        batch.add_column(sa.Column("config", sa.Text(), nullable=True))
        batch.add_column(sa.Column("config_schema", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mqtt_discovery") as batch:
        batch.drop_column("config_schema")
        batch.drop_column("config")
