"""Relay what the embedded Mosquitto says about refused clients to the hub's log.

Mosquitto writes to `mqtt_broker/mosquitto.log`; a refused login appears there as
`Client <unknown> disconnected, not authorised.` right after the `New connection from
ADDRESS ...` line of that connection (Mosquitto 2.0 names no client id for a refused
CONNECT). The hub's log gets one warning per refusal, with the address and what to check.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

_LOGGER = logging.getLogger("integrations.mqtt.broker")

POLL = 1.0
_NEW = re.compile(r"New connection from (\S+) on port (\d+)")
_ACCEPTED = re.compile(r"New client connected from (\S+) as (\S+)")
_REFUSED = re.compile(r"Client (\S+) disconnected, not authori[sz]ed")
_TLS = re.compile(r"OpenSSL Error.*")


class RefusalRelay:
    """Follow the broker's log file from its current end and log each refused connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.pending: dict[str, str] = {}  # address -> port, connections not yet accepted
        self.refused = 0

    def feed(self, text: str) -> None:
        """Handle new lines of the log."""
        for line in text.splitlines():
            if match := _NEW.search(line):
                self.pending[match.group(1)] = match.group(2)
            elif match := _ACCEPTED.search(line):
                self.pending.pop(match.group(1), None)
            elif match := _REFUSED.search(line):
                self.refused += 1
                address = next(iter(self.pending), "an unknown address")
                self.pending.pop(address, None)
                client = "" if match.group(1) == "<unknown>" else f" {match.group(1)}"
                _LOGGER.warning(
                    "The MQTT broker refused client%s from %s: not authorised (no such device account, a wrong "
                    "password, or a device that was deleted; see docs/devices.md, Troubleshooting)", client, address)
            elif match := _TLS.search(line):
                _LOGGER.warning("The MQTT broker refused a TLS connection: %s (a device with the wrong port or "
                                "an old certificate fingerprint?)", match.group(0))

    def poll(self) -> None:
        """Read what the log gained since the last poll."""
        try:
            size = self.path.stat().st_size
            if size < self.offset:  # rotated or truncated
                self.offset = 0
            if size == self.offset:
                return
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read(size - self.offset)
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # only whole lines
        self.offset += end
        self.feed(data[:end].decode(errors="replace"))

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(POLL)
            self.poll()
