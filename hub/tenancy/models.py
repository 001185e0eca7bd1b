"""Tables of tenants, homes and home members, on the core's metadata.

A tenant owns homes and users and carries a plan; a home has its own MQTT topic root, time
zone and currency; a member is a user with a role in one home. Home ids are unique in the
whole database, so every home-owned row is keyed by `home_id` alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, SHORT_LENGTH, Base
from hub.storage.scoped import tenant_id_default

TENANT_STATUSES = ("active", "suspended")
TOPIC_ROOT_LENGTH = 64  # integrations.mqtt.topic_root.MAX_LENGTH
ZONE_LENGTH = 64
CURRENCY_LENGTH = 3


class TenantRow(Base):
    """A customer: owns homes and users, and is on a plan (hub/tenancy/plans.py names them)."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    # A plan name of hub/tenancy/plans.py; None: no plan, no limits (the default tenant).
    plan: Mapped[str | None] = mapped_column(String(SHORT_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    trial_ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class HomeRow(Base):
    """A home of a tenant: what one hub core serves."""

    __tablename__ = "homes"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    topic_root: Mapped[str] = mapped_column(String(TOPIC_ROOT_LENGTH))
    time_zone: Mapped[str] = mapped_column(String(ZONE_LENGTH))
    currency: Mapped[str] = mapped_column(String(CURRENCY_LENGTH))
    created_at: Mapped[datetime]


class HomeMemberRow(Base):
    """A user's role in one home (a user may be a member of several homes of their tenant)."""

    __tablename__ = "home_members"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'admin', 'user', 'read-only')", name="role"),
        Index("ix_home_members_user_id", "user_id"),
    )

    home_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The tenant of both, so row-level security can key on it as on every tenant-level table.
    tenant_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True, default=tenant_id_default)
    role: Mapped[str] = mapped_column(String(16))


__all__ = ["TENANT_STATUSES", "HomeMemberRow", "HomeRow", "TenantRow"]
