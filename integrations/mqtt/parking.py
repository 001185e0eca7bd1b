"""A home's MQTT session kept at the broker while the home is away (suspended, restarting).

A home of many leaves the process's one connection when it is suspended or restarts with a
changed record (integrations/mqtt/shared.py). So that its devices' QoS 1 readings are not lost
meanwhile, it first subscribes its QoS 1/2 filters in a **parked session** of its own: the client
id `<process client id>.<home id>`, a persistent session, connected only for that SUBSCRIBE and
closed at once. The broker queues what arrives for those filters (Mosquitto: up to its
`max_queued_messages`). The home's data folder holds `mqtt-parked.json` (the client id and the
filters), so that whichever process serves the home next finds the session.

When the home runs again, it joins the shared connection first (from then on its readings come
there), then connects the parked session once more: the broker delivers what it kept; each
message is handled by the home and acknowledged once durable, as any other. Once no message came
for QUIET seconds, the parked filters are unsubscribed, the session closed and the file removed.
A reading that arrived in both (between the SUBSCRIBE of one and the UNSUBSCRIBE of the other)
is handled twice: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from integrations.mqtt.acks import BLOCKED, Durable
from integrations.mqtt.client import ConnectionSettings, MqttClient, MqttClientError
from integrations.mqtt.subscriptions import Message

_LOGGER = logging.getLogger(__name__)

MARKER = "mqtt-parked.json"  # in the home's data folder
QUIET = 0.5  # seconds without a message after which the parked session is read out
CONNECT_WAIT = 10.0  # seconds to reach the broker for the parked session
READ_AT_MOST = 120.0  # seconds a parked session is read at most (a flood of kept readings)


def _noop(_message: Message) -> None:
    """Parked filters have no handler: what comes while parking is not acknowledged (stays the broker's)."""


class _Parked(MqttClient):
    """The parked session: every message goes to `receive` (None: held, not acknowledged)."""

    def __init__(self, settings: ConnectionSettings, receive: Callable[[Message], Durable | None] | None) -> None:
        super().__init__(settings)
        self.receive = receive
        self.last = 0.0
        self.count = 0

    def _handle(self, message: Message) -> Durable | None:
        self.last = asyncio.get_running_loop().time()
        if self.receive is None:
            return BLOCKED  # parking: nothing is acknowledged, the broker keeps it
        self.count += 1
        return self.receive(message)


def _dropped(_message: Message) -> Durable | None:
    return None  # acknowledged at once


def parked_settings(process: ConnectionSettings, home_id: str) -> ConnectionSettings:
    """The parked session's settings: the process's broker account, a client id of the home's, no birth or will."""
    return replace(process, client_id=f"{process.client_id}.{home_id}", birth=None, will=None,
                   extra=dict(process.extra))


async def park(settings: ConnectionSettings, filters: dict[str, int], folder: Path, root: str = "") -> bool:
    """Subscribe the QoS 1/2 filters in the parked session and leave it; return whether it was done.

    The marker is written before the SUBSCRIBE: a session half made is read (and ended) next time.
    """
    kept = {topic_filter: qos for topic_filter, qos in filters.items() if qos}
    if not kept:
        return False
    marker = folder / MARKER
    _write(marker, {"client_id": settings.client_id, "filters": kept, "root": root})
    client = _Parked(settings, None)
    try:
        await client.start()
        if not await client.wait_connected(CONNECT_WAIT):
            _LOGGER.warning("The MQTT broker was not reachable to keep the readings of a home that leaves (%s)",
                            settings.client_id)
            return False
        for topic_filter, qos in kept.items():
            client.subscribe(topic_filter, _noop, qos)
        await client.wait_subscribed()
        return True
    finally:
        await client.stop()


async def read_parked(settings: ConnectionSettings, folder: Path,
                      receive: Callable[[Message], Durable | None], root: str = "") -> int | None:
    """Read what the broker kept in the home's parked session, then end it; return how many (None: none parked).

    receive: the home's handling of a message (returns its durability barrier); root: the home's
    topic root now. Parked under another root (its record changed it), what was kept is not the
    home's any more: it is acknowledged and dropped, and the session ended all the same.
    """
    marker = folder / MARKER
    try:
        saved = json.loads(marker.read_text())
        filters: dict[str, int] = {str(k): int(v) for k, v in saved["filters"].items()}
        client_id = str(saved["client_id"])
        parked_root = str(saved.get("root", root))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        _LOGGER.warning("Ignoring %s: %s (expected {\"client_id\": ..., \"filters\": {filter: qos}})", marker, err)
        return None
    if parked_root != root:
        _LOGGER.info("Dropping what the MQTT broker kept under %r: the home's topic root is %r now", parked_root, root)
        receive = _dropped
    client = _Parked(replace(settings, client_id=client_id), receive)
    loop = asyncio.get_running_loop()
    try:
        await client.start()
        if not await client.wait_connected(CONNECT_WAIT):
            _LOGGER.warning("The MQTT broker was not reachable to read what it kept for the home (%s)", client_id)
            return None
        began = client.last = loop.time()
        while loop.time() - client.last < QUIET and loop.time() - began < READ_AT_MOST:
            await asyncio.sleep(QUIET / 5)
        # What was read is acknowledged once durable (the stop drains); nothing is parked any more.
        connection = client._client  # noqa: SLF001 - the session's own connection, for its UNSUBSCRIBE
        if connection is not None and client.connected:
            with contextlib.suppress(MqttClientError, TimeoutError):
                await connection.unsubscribe(sorted(filters))
    finally:
        await client.stop()
    with contextlib.suppress(FileNotFoundError):
        marker.unlink()
    return client.count


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)
