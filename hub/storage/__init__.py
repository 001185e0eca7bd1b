"""The hub's own database: models, engines, sessions and migrations."""

from hub.storage.engine import (
    create_engine,
    default_sqlite_url,
    migrate,
    session_factory,
)
from hub.storage.models import Base, utcnow

__all__ = ["Base", "create_engine", "default_sqlite_url", "migrate", "session_factory", "utcnow"]
