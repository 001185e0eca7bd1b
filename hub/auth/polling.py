"""Following what other processes change in the auth tables: revocations, bans, key rotation.

A single home's store and the store many homes share poll the same way: every POLL_INTERVAL
seconds, pruning what no longer matters once an hour, retrying when the database is away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

_LOGGER = logging.getLogger(__name__)

POLL_INTERVAL = 2.0  # seconds between reads of what other processes revoked, banned or rotated
PRUNE_EVERY = 1800  # polls (an hour)


async def poll_until_cancelled(
    poll: Callable[[], Awaitable[None]], prune: Callable[[], Awaitable[None]], interval: float = POLL_INTERVAL
) -> None:
    """Call poll every interval seconds and prune every PRUNE_EVERY polls, until cancelled."""
    polls = 0
    while True:
        await asyncio.sleep(interval)
        try:
            await poll()
            polls += 1
            if polls % PRUNE_EVERY == 0:
                await prune()
        except Exception:  # noqa: BLE001 - the database may be away for a moment; try again
            _LOGGER.exception("Reading revocations and bans failed; will retry")
