"""Fixtures for automation tests: an in-memory hub on a manual clock, and a service recorder."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from hub.config.loader import HubLoader
from hub.core.clock import ManualClock
from hub.core.hub import Hub
from hub.core.services import ServiceCall
from tests.core.conftest import hub as core_hub  # noqa: F401 - the in-memory hub fixture


@pytest.fixture
def clock(core_hub: Hub) -> ManualClock:  # noqa: F811
    """A manual clock at Monday 2024-01-01 12:00 UTC on the hub."""
    manual = ManualClock(datetime(2024, 1, 1, 12, 0, tzinfo=UTC))
    core_hub.clock = manual
    return manual


@pytest.fixture
def hub(core_hub: Hub, clock: ManualClock) -> Hub:  # noqa: F811
    """The hub with its manual clock."""
    return core_hub


class Recorder:
    """Registers test.* services and keeps their calls."""

    def __init__(self, hub: Hub) -> None:
        self.calls: list[ServiceCall] = []
        for service in ("record", "other"):
            hub.services.register("test", service, self._handle)

    async def _handle(self, call: ServiceCall) -> None:
        self.calls.append(call)

    @property
    def data(self) -> list[dict[str, Any]]:
        return [dict(call.data) for call in self.calls]


@pytest.fixture
def calls(hub: Hub) -> Recorder:
    """Service calls made to test.record / test.other."""
    return Recorder(hub)


def load_yaml_text(text: str, file: str = "automations.yaml") -> Any:
    """Parse YAML with the hub's loader (line numbers, !input)."""
    loader = HubLoader(textwrap.dedent(text), file, None, None, ())
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


async def setup_automations(hub: Hub, text: str) -> list[Any]:
    """Set the automation integration up in memory from YAML text; return the issues."""
    from automations import integration  # noqa: PLC0415

    await integration.setup_integration(hub, load_yaml_text(text))
    from automations.loader import config_issues  # noqa: PLC0415

    await hub.block_till_done()
    return config_issues(hub, "automation")


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Wait until predicate() is truthy, failing after timeout seconds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.005)


__all__ = ["Recorder", "load_yaml_text", "setup_automations", "yaml"]
