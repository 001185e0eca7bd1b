"""Keep cancelled requests' database connections out of the error log.

When a client goes away mid-request (a WebSocket closed while its command reads the
database), its task is cancelled while SQLAlchemy returns the connection; the pool then logs
"Exception during reset or similar" with the CancelledError's traceback, at error level,
and discards the connection, which is the right outcome. Anyone who can open and close
connections could fill the log that way; this filter turns those records into one debug line.
Every other pool error is logged as before.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.pool import impl

_LOGGER = logging.getLogger(__name__)
_POOLS = ("AsyncAdaptedQueuePool", "FallbackAsyncAdaptedQueuePool", "QueuePool", "NullPool", "StaticPool",
          "SingletonThreadPool", "AssertionPool")


class CancelledResetFilter(logging.Filter):
    """Drop a pool's error record about a connection returned by a cancelled task."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, asyncio.CancelledError):
            _LOGGER.debug("Discarded the database connection of a cancelled request (%s)", record.getMessage())
            return False
        return True


def install() -> None:
    """Put the filter on the loggers of SQLAlchemy's pool classes (idempotent)."""
    for name in _POOLS:
        if hasattr(impl, name):
            logger = logging.getLogger(f"{impl.__name__}.{name}")
            if not any(isinstance(f, CancelledResetFilter) for f in logger.filters):
                logger.addFilter(CancelledResetFilter())
