"""Authentication: users, passwords and access tokens."""

from hub.auth.store import (
    AuthError,
    AuthStore,
    InvalidPasswordError,
    InvalidRoleError,
    TokenInfo,
    UnknownUserError,
    User,
    UserExistsError,
)

__all__ = [
    "AuthError",
    "AuthStore",
    "InvalidPasswordError",
    "InvalidRoleError",
    "TokenInfo",
    "UnknownUserError",
    "User",
    "UserExistsError",
]
