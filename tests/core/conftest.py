"""Fixtures for core tests: an in-memory Hub whose loop errors fail the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.core.hub import Hub


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    """Yield a Hub with no storage or servers; unhandled loop errors fail the test."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    instance = Hub()
    try:
        yield instance
        await instance.stop()
    finally:
        loop.set_exception_handler(previous)
    if errors:
        pytest.fail(f"Unhandled errors in the event loop: {errors}")
