"""Helpers for running simulated nodes against the real Mosquitto of tests/servers.py."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware.sim.fleet import Fleet


class Observer:
    """An MQTT client that records every message on the given filters."""

    def __init__(self, url: str, *filters: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.messages: list[paho.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.subscribe([(f, 1) for f in filters])
        assert subscribed.wait(5), "observer: no SUBACK"

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def on(self, topic: str) -> list[bytes]:
        """Return the payloads received on a topic so far."""
        with self.lock:
            return [m.payload for m in self.messages if m.topic == topic]

    def retained(self, prefix: str) -> dict[str, bytes]:
        """Return retained messages whose topic starts with prefix."""
        with self.lock:
            return {m.topic: m.payload for m in self.messages if m.retain and m.topic.startswith(prefix)}

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def step_until(fleet: Fleet, condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Step the fleet until condition() is truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        fleet.step()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        pause.wait(0.01)  # let the broker and the observer's thread deliver


@pytest.fixture
def make_fleet(tmp_path: Path) -> Iterator[Callable[..., Fleet]]:
    """Build fleets with a fresh discovery prefix; drop their connections at the end."""
    fleets: list[Fleet] = []

    def make(url: str, count: int = 1, **options: Any) -> Fleet:
        options.setdefault("prefix", f"t{uuid.uuid4().hex[:6]}")
        options.setdefault("discovery_prefix", f"ha{uuid.uuid4().hex[:6]}")
        options.setdefault("interval", 0.2)
        fleet = Fleet(url, count, tmp_path / f"fleet{len(fleets)}", **options)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.close()


def stepping_wall(start: int, step: int = 10) -> Callable[[], int]:
    """Return a wall clock that moves step seconds per reading (readings need distinct times)."""
    return itertools.count(start, step).__next__
