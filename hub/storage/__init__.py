"""The hub's own database: models, engines, sessions and migrations.

An integration that keeps tables declares them on its own `MetaData` made by `new_metadata()`
and maps Python types with `TYPE_ANNOTATION_MAP` (docs/integrations.md, "Persist data").
"""

from hub.storage.engine import (
    create_engine,
    default_sqlite_url,
    migrate,
    session_factory,
)
from hub.storage.models import TYPE_ANNOTATION_MAP, Base, new_metadata, table_of, utcnow

__all__ = [
    "TYPE_ANNOTATION_MAP",
    "Base",
    "create_engine",
    "default_sqlite_url",
    "migrate",
    "new_metadata",
    "session_factory",
    "table_of",
    "utcnow",
]
