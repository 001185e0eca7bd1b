"""Telemetry backfill: readings a node buffered while offline go into history at their own times.

    telemetry_backfill:
      topic: devices/+/telemetry      # default (under mqtt: topic_root); `+` is the node id

Nodes running firmware/ publish {"node_id", "readings": [{"ts", "power", "energy", ...}]} on
reconnect. Every field is kept: each is written to the history of the sensor the node
announced for it (unique_id `<node_id>_<field>`), or, when it announced none, under the entity
id that sensor would have (`sensor.<node_id>_<field>`, slugified), through the recorder's
backfill path; live states are not touched. A reading's time is `ts` or `timestamp` (epoch
seconds, milliseconds or ISO 8601). What cannot be kept (a null, a list, an object, a bad
field name) is named in one warning per node per minute. A `telemetry_backfilled` event
reports each batch.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl
from hub.util import slugify
from integrations.telemetry_backfill.batch import BatchError, TelemetryBatch, parse

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
DOMAIN = "telemetry_backfill"
EVENT = "telemetry_backfilled"
DROP_WARNING_INTERVAL = 60.0  # seconds between two warnings about one node's dropped fields


def _topic(value: Any) -> str:
    text = str(value)
    parts = text.split("/")
    if parts.count("+") != 1 or "#" in parts:
        raise vol.Invalid(f"topic must hold exactly one '+' (the node id) and no '#', got {text!r}")
    return text


# Without a topic, the nodes' own: `<mqtt topic_root>devices/+/telemetry`.
CONFIG_SCHEMA = vol.Schema(
    vol.Any(None, {vol.Optional("topic"): _topic}),
)


def default_topic(root: str = "") -> str:
    """Return where the nodes under a topic root send their batches."""
    return f"{root}devices/+/telemetry"


class Backfiller:
    """Subscribe to telemetry batches and write them to history."""

    def __init__(self, hub: Hub, topic: str) -> None:
        self.hub = hub
        self.topic = topic
        self._node_index = topic.split("/").index("+")
        self._warned: dict[str, float] = {}

    def on_message(self, message: Any) -> None:
        """Check a batch inline, then write it in a task (the recorder's append awaits)."""
        node_id = message.topic.split("/")[self._node_index]
        try:
            batch = parse(node_id, message.payload)
        except BatchError as err:
            _LOGGER.warning("Ignored telemetry batch on %s: %s", message.topic, err)
            return
        if batch.dropped:
            self.warn_dropped(batch.node_id, batch.dropped)
        if batch.count:
            self.hub.create_task(self.write(batch))

    def warn_dropped(self, node_id: str, dropped: dict[str, str]) -> None:
        """Name the fields that were not kept, at most once a minute per node."""
        now = self.hub.clock.time()
        if now - self._warned.get(node_id, -DROP_WARNING_INTERVAL) < DROP_WARNING_INTERVAL:
            return
        self._warned[node_id] = now
        if len(self._warned) > 10_000:  # bounded: forget the nodes not heard of for longest
            for stale in sorted(self._warned, key=self._warned.__getitem__)[:5_000]:
                del self._warned[stale]
        _LOGGER.warning("Telemetry of %s on %s: dropped fields %s", node_id, self.topic,
                        "; ".join(f"{name} ({why})" for name, why in sorted(dropped.items())))

    async def write(self, batch: TelemetryBatch) -> int:
        """Write one batch; return the number of points stored."""
        from hub.recorder import get_recorder

        recorder = get_recorder(self.hub)
        if recorder is None:
            _LOGGER.warning("Dropped %d readings of %s: the recorder is not running", batch.count, batch.node_id)
            return 0
        written = 0
        entities: dict[str, str] = {}
        for field, points in batch.points.items():
            entity_id = self._entity_id(f"{batch.node_id}_{field}") or f"sensor.{slugify(f'{batch.node_id}_{field}')}"
            entities[field] = entity_id
            written += await recorder.backfill(entity_id, points)
        self.hub.bus.fire(
            EVENT,
            {"node_id": batch.node_id, "readings": batch.count, "points": written, "entities": entities,
             "first_ts": batch.first_ts, "last_ts": batch.last_ts},
        )
        return written

    def _entity_id(self, unique_id: str) -> str | None:
        registry = getattr(self.hub, "entity_registry", None)
        if registry is not None:
            found = registry.get_entity_id("sensor", "mqtt", unique_id)
            if found is not None:
                return str(found)
        for entity in self.hub.entities.for_domain("sensor"):
            if entity.unique_id == unique_id and entity.entity_id:
                return str(entity.entity_id)
        return None


@hookimpl
async def setup_integration(hub: Hub, config: Any) -> None:
    """Subscribe to the telemetry topic through the MQTT integration's connection."""
    from integrations.mqtt import api as mqtt_api

    config = CONFIG_SCHEMA(config) or {}
    mqtt = mqtt_api(hub)
    if mqtt is None:
        _LOGGER.error("telemetry_backfill needs the mqtt integration")
        return
    topic = config.get("topic") or default_topic(mqtt.topic_root)
    backfiller = Backfiller(hub, topic)
    unsubscribe = mqtt.subscribe(topic, backfiller.on_message, qos=1)
    hub.on_stop(unsubscribe)
