"""One device command and the steps of its life: queued, sent, acknowledged, confirmed or failed.

A relay's on/off/toggle carries its `target` (the state it asks for); other commands (set_value,
select_option, press, reboot) carry their `parameters` and the state that confirms them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.util import new_ulid

QUEUED = "queued"
SENT = "sent"
ACKNOWLEDGED = "acknowledged"
CONFIRMED = "confirmed"
FAILED = "failed"
TIMED_OUT = "timed_out"
EXPIRED = "expired"
FINAL = frozenset({CONFIRMED, FAILED, TIMED_OUT, EXPIRED})
COMMANDS = ("on", "off", "toggle")
SUCCESS = frozenset({CONFIRMED})


def _at(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


@dataclass(slots=True, eq=False)
class RelayCommand:
    """A command to one entity of a device; `target` is a relay's on/off state (toggle resolved)."""

    entity_id: str
    device_id: str | None
    command: str
    target: bool | None
    user_id: str | None
    context_id: str | None
    created: float
    expires: float | None = None
    id: str = field(default_factory=new_ulid)
    status: str = QUEUED
    sent: float | None = None
    confirmed: float | None = None
    error: str | None = None
    parameters: dict[str, Any] | None = None
    new_state: str | None = None  # the state the device confirmed
    persisted: bool = False  # the row exists in the database (later writes update it)
    announced: str | None = None  # the status last fired on the bus

    @property
    def done(self) -> bool:
        """Whether the command reached a final status."""
        return self.status in FINAL

    def row(self) -> dict[str, Any]:
        """Return the relay_commands row of the command as it is now."""
        return {
            "id": self.id,
            "entity_id": self.entity_id,
            "device_id": self.device_id,
            "command": self.command,
            "status": self.status,
            "user_id": self.user_id,
            "context_id": self.context_id,
            "created_at": _at(self.created),
            "sent_at": _at(self.sent),
            "confirmed_at": _at(self.confirmed),
            "error": self.error,
            "parameters": self.parameters,
            "new_state": self.new_state,
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the command as JSON-able data (ISO times), for the API."""
        data = self.row()
        for key in ("created_at", "sent_at", "confirmed_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        return data
