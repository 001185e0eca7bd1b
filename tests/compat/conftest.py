"""Helpers for the compatibility tests: wait on a started hub without sleeping blindly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.core.conftest import hub as hub  # the in-memory hub fixture (loop errors fail the test)


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait until condition() is truthy (checked every 10 ms); fail naming what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def state_of(running: Any, entity_id: str) -> str | None:
    """Return the state string of an entity, or None when it has none."""
    state = running.states.get(entity_id)
    return None if state is None else state.state

