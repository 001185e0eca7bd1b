"""Tables of the API and auth layer: the audit log, revoked sessions, failed logins and IP bans.

The keys that sign access tokens are not here: they live in a private file of the data dir
(hub.auth.signing_keys), so that reading the database is not enough to forge a token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import ID_LENGTH, NAME_LENGTH, SHORT_LENGTH, Base, HomeOwned

TARGET_LENGTH = 512
ADDRESS_LENGTH = 64  # an IPv6 address with a zone fits
THROTTLE_KEY_LENGTH = NAME_LENGTH + ADDRESS_LENGTH + 8


class AuditRow(HomeOwned, Base):
    """Who did what to which target, when, and how it ended (logins, service calls, refusals).

    `user_name` names the actor that is not a user (an automation, a schedule, a device key);
    `reason` says why a refused call was refused; `context_id` and `parent_context_id` tie an
    action to the context it ran in and to what triggered it. Each home keeps its own trail.
    """

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
    reason: Mapped[str | None] = mapped_column(String(TARGET_LENGTH))
    context_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    parent_context_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class RevocationRow(Base):
    """A login session (refresh-token family) or long-lived token that was revoked.

    Every hub process reads these at start and polls for new ones, so an access token of a
    revoked session dies without a query per request, also when another process revoked it.
    """

    __tablename__ = "auth_revocations"
    __table_args__ = (Index("ix_auth_revocations_revoked_at", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)  # family or token id
    kind: Mapped[str] = mapped_column(String(16))  # "session" or "token"
    revoked_at: Mapped[datetime]


class LoginFailureRow(Base):
    """Failed logins of one (account, address) pair or of one address, and its backoff."""

    __tablename__ = "auth_login_failures"
    __table_args__ = (Index("ix_auth_login_failures_account", "account"),)

    key: Mapped[str] = mapped_column(String(THROTTLE_KEY_LENGTH), primary_key=True)
    account: Mapped[str | None] = mapped_column(String(NAME_LENGTH))  # lower-cased; None: the address key
    address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH))
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class IpBanRow(Base):
    """An address banned after `http: login_attempts_threshold` failed logins (Home Assistant's ip_ban)."""

    __tablename__ = "auth_ip_bans"

    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    banned_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(NAME_LENGTH))


__all__ = ["AuditRow", "IpBanRow", "LoginFailureRow", "RevocationRow"]
