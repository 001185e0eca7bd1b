"""Tables of the API and auth layer: the audit log and the signing keys of access tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, SHORT_LENGTH, Base

TARGET_LENGTH = 512
ADDRESS_LENGTH = 64  # an IPv6 address with a zone fits


class AuditRow(Base):
    """Who did what to which target, when, and how it ended (logins, service calls)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime]
    # No foreign key: the trail must outlive the user it names.
    user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    user_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    action: Mapped[str] = mapped_column(String(SHORT_LENGTH))
    target: Mapped[str | None] = mapped_column(String(TARGET_LENGTH))
    result: Mapped[str] = mapped_column(String(SHORT_LENGTH))
    remote: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))


class AuthKeyRow(Base):
    """A secret the hub made for itself, e.g. the key that signs JWT access tokens.

    Kept in the database so that every hub process sharing it accepts the same tokens.
    """

    __tablename__ = "auth_keys"

    name: Mapped[str] = mapped_column(String(SHORT_LENGTH), primary_key=True)
    secret: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime]


__all__ = ["AuditRow", "AuthKeyRow"]
