"""Fixtures and helpers for the operations tests: real hubs started from a config folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tests.api.conftest import api  # noqa: F401 - the fixture, for test_logs

DEVICES = '''
import voluptuous as vol
from hub import hookimpl
from hub.core.entity import SensorEntity
from hub.exceptions import HubError


class Meter(SensorEntity):
    def __init__(self):
        self.name = "Ops power"
        self.unique_id = "ops_power"
        self.native_value = 1
        self.unit_of_measurement = "W"
        self.device_info = {"identifiers": [["testops", "node-1"]], "name": "Ops node"}


def fail(call):
    raise HubError("the relay did not answer")


@hookimpl
async def setup_integration(hub, config):
    meter = Meter()
    await hub.entities.add(meter, "testops")

    def set_power(call):
        meter.native_value = call.data["value"]
        meter.write_state()

    hub.services.register("testops", "set_power", set_power, vol.Schema({"value": vol.Coerce(float)}))
    hub.services.register("testops", "fail", fail)
'''


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait for condition() to be truthy (polling the loop), or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
