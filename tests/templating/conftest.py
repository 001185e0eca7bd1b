"""Fixtures for template tests: an in-memory hub on a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.clock import ManualClock
from hub.core.hub import Hub
from tests.core.conftest import hub as core_hub  # noqa: F401 - the in-memory hub fixture


@pytest.fixture
def clock(core_hub: Hub) -> ManualClock:  # noqa: F811
    """Put a manual clock at 2024-01-01 12:00 UTC on the hub."""
    manual = ManualClock(datetime(2024, 1, 1, 12, 0, tzinfo=UTC))
    core_hub.clock = manual
    return manual


@pytest.fixture
def hub(core_hub: Hub, clock: ManualClock) -> Hub:  # noqa: F811
    """The hub with its manual clock."""
    return core_hub
