"""`sensor.recorder_backlog`: the points not in the history backend yet, shown without flooding the bus."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from hub.core.entity import SensorEntity

if TYPE_CHECKING:
    from hub.core.hub import Hub

BACKLOG_ENTITY_ID = "sensor.recorder_backlog"
# The sensor changes at most this often, but at once when it reaches or leaves 0.
INTERVAL = 1.0


class BacklogSensor(SensorEntity):
    """Points waiting in the spool (or in memory): above 0 means the history backend is behind or down."""

    name = "Recorder backlog"
    icon = "mdi:database-clock"
    unit_of_measurement = "points"
    state_class = "measurement"
    native_value = 0


class Backlog:
    """Show the recorder's backlog on its sensor, at most once per INTERVAL while it is busy.

    A recorder commits many times a second under load; a state change per commit would be
    noise on the bus and in every dashboard.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sensor: BacklogSensor | None = None
        self._written = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._latest: tuple[int, dict[str, Any]] | None = None

    async def add(self, points: int) -> None:
        """Add the sensor to the hub."""
        sensor = self.sensor = BacklogSensor()
        sensor.entity_id = BACKLOG_ENTITY_ID
        sensor.native_value = points
        await self.hub.entities.add(sensor, "recorder")

    def show(self, points: int, attributes: dict[str, Any], *, now: bool = False) -> None:
        """Show the backlog: at once when now, when it reaches or leaves 0, else within INTERVAL."""
        sensor = self.sensor
        if sensor is None or sensor.hub is None:
            return
        if sensor.native_value == points and sensor.extra_state_attributes == attributes:
            return
        clock = time.monotonic()
        if not now and points and sensor.native_value and clock - self._written < INTERVAL:
            self._latest = (points, attributes)
            if self._timer is None:
                self._timer = self.hub.loop.call_later(INTERVAL, self._due)
            return
        self._written = clock
        self._latest = None
        sensor.native_value = points
        sensor.extra_state_attributes = attributes
        sensor.write_state()

    def _due(self) -> None:
        self._timer = None
        if self._latest is not None:
            self.show(*self._latest, now=True)

    def close(self) -> None:
        """Stop the pending update."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
