"""Who may do what: owner and admin manage, user controls, read-only only reads and subscribes."""

from __future__ import annotations

from typing import Any

from hub.exceptions import Unauthorized

ROLE_READ_ONLY = "read-only"


def can_control(user: Any) -> bool:
    """Return whether the user may call services and change states (every role but read-only)."""
    return user is not None and user.is_active and user.role != ROLE_READ_ONLY


def require_control(user: Any) -> None:
    """Raise Unauthorized unless the user may call services."""
    if not can_control(user):
        raise Unauthorized


def require_admin(user: Any) -> None:
    """Raise Unauthorized unless the user is an owner or admin."""
    if user is None or not user.is_admin:
        raise Unauthorized
