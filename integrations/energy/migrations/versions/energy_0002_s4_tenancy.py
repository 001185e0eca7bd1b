"""energy_state rows belong to a home: tenant_id and home_id, the existing rows the default home's.

Revision ID: energy_0002_tenancy
Revises: 0007_energy
Create Date: 2026-12-03

Written by hand, frozen; a test proves migrations == the integration's models. Keys become
unique per home; on PostgreSQL the table gets row-level security (home_columns.py).
"""

from collections.abc import Sequence

from hub.storage.migrations.home_columns import make_home_owned, undo_home_owned

revision: str = "energy_0002_tenancy"
down_revision: str | Sequence[str] | None = "0007_energy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    make_home_owned("energy_state", primary=("key",))


def downgrade() -> None:
    undo_home_owned("energy_state", primary=("key",))
