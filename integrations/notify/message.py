"""What a notification is once its templates are rendered, and how delivering one fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.exceptions import HubError


class DeliveryError(HubError):
    """A notification could not be delivered (refused, unreachable, timed out)."""


@dataclass(slots=True)
class Message:
    """A rendered notification on its way to one target.

    `suppressed` counts the messages with the same throttle key that were dropped in the
    window before this one, so a reader learns an alert storm happened.
    """

    message: str
    title: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    target: list[str] = field(default_factory=list)
    suppressed: int = 0

    def text(self) -> str:
        """Return the message with a note about suppressed repeats, when there were any."""
        if not self.suppressed:
            return self.message
        noun = "message" if self.suppressed == 1 else "messages"
        return f"{self.message}\n\n({self.suppressed} similar {noun} suppressed)"

    def as_json(self) -> dict[str, Any]:
        """Return the JSON body a webhook receives."""
        return {
            "title": self.title,
            "message": self.message,
            "data": self.data,
            "target": self.target,
            "suppressed": self.suppressed,
        }
