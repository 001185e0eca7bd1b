"""A client that goes away mid-query leaves no traceback in the log (found by the WebSocket fuzz suite)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.storage.engine import create_engine


async def test_a_cancelled_requests_connection_is_not_an_error(caplog: Any) -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        pool_logger = logging.getLogger("sqlalchemy.pool.impl.AsyncAdaptedQueuePool")
        with caplog.at_level(logging.DEBUG):
            pool_logger.error("Exception during reset or similar", exc_info=(asyncio.CancelledError,
                                                                           asyncio.CancelledError(), None))
            pool_logger.error("Exception during reset or similar", exc_info=(ValueError, ValueError("real"), None))
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and isinstance(errors[0].exc_info[1], ValueError)
        assert any("cancelled request" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    finally:
        await engine.dispose()
