"""A virtual board: the hardware one simulated node sees (meter, pins, Wi-Fi, reboot).

The shim modules (`machine`, `network`, `umqtt.simple`) bind each object they create to the
board that is active while the node is being built, so many nodes share one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from firmware.sim.meter import MeterEmulator

_active: VirtualBoard | None = None


class Reboot(Exception):
    """machine.reset() was called: the simulator builds the node again from its flash files."""


class VirtualBoard:
    """The simulated hardware of one node.

    Args:
        node_id: the node's id (for messages).
        meter: the PZEM emulator on its UART.
        relay_pins: GPIO numbers of the relays, in order; the first one switches the meter's load.
    """

    def __init__(self, node_id: str, meter: MeterEmulator, relay_pins: list[int]) -> None:
        self.node_id = node_id
        self.meter = meter
        self.relay_pins = relay_pins
        self.pins: dict[int, int] = {}
        self.stuck: set[int] = set()  # pins whose output no longer follows writes
        self.online = True
        self.clients: list[object] = []  # MQTT shims created on this board
        meter.load_on = self.load_on

    def load_on(self, index: int) -> bool:
        """Return whether relay `index` passes current (True when the node has no such relay)."""
        if index >= len(self.relay_pins):
            return True
        return bool(self.pins.get(self.relay_pins[index], 0))

    def go_offline(self) -> None:
        """Drop Wi-Fi; open MQTT sockets die without DISCONNECT, so the broker sends the will."""
        self.online = False
        for client in self.clients:
            client.drop()  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def active(self) -> Iterator[VirtualBoard]:
        """Make this the board that shim objects created inside the block belong to."""
        global _active
        previous, _active = _active, self
        try:
            yield self
        finally:
            _active = previous


def current() -> VirtualBoard:
    """Return the board being built on; fail clearly outside `VirtualBoard.active()`."""
    if _active is None:
        msg = "simulated hardware must be created inside VirtualBoard.active()"
        raise RuntimeError(msg)
    return _active


