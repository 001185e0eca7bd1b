"""The `ota` command: ask a node running our firmware to fetch and install a signed image.

The image is built and signed beforehand (`python -m firmware.ota_tool bundle|sign`, with the
node's own key, which the hub never holds) and served over HTTP; the command carries where it is
and its signature: `{"command": "ota", "parameters": {"url": "http://...", "size": n, "hmac": "<64 hex>"}}`.
The hub publishes them on `{root}devices/<node_id>/ota/begin` and follows `.../ota/status`:
`receiving` (the command stays acknowledged), `installed` (confirmed; the node restarts) or
`refused` (failed, with the node's reason: a wrong signature, a failed download ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import payload_json
from hub.core.context import Context
from hub.exceptions import HubError, ServiceValidationError
from integrations.relay.command import ACKNOWLEDGED, CONFIRMED, FAILED, SENT, TIMED_OUT, RelayCommand

if TYPE_CHECKING:
    from integrations.mqtt import Message
    from integrations.relay.manager import RelayManager

OTA = "ota"
MAX_IMAGE = 1024 * 1024  # what the firmware accepts (firmware/ota.py)
OTA_TIMEOUT = 300.0  # seconds for the download, the check and the install
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def check_ota(parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the begin message's fields, checked.

    Raises:
        ServiceValidationError: naming the parameter that is missing or wrong.
    """
    url, size, signature = parameters.get("url"), parameters.get("size"), parameters.get("hmac")
    if not isinstance(url, str) or not url.startswith("http://") or len(url) > 512:
        message = "parameters.url must be an http:// URL of the signed image (the firmware fetches plain HTTP; the signature protects it)"
        raise ServiceValidationError(message)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_IMAGE:
        message = f"parameters.size must be the image's size in bytes, 1 to {MAX_IMAGE}"
        raise ServiceValidationError(message)
    if not isinstance(signature, str) or not _HEX64.match(signature):
        message = "parameters.hmac must be the image's HMAC-SHA256 with the node's key: 64 hex digits"
        raise ServiceValidationError(message)
    return {"url": url, "size": size, "hmac": signature.lower()}


class OtaRequests:
    """OTA commands in flight, one per node, and the node's status messages."""

    def __init__(self, manager: RelayManager, root: str = "") -> None:
        self.manager = manager
        self.root = root
        self._pending: dict[str, tuple[RelayCommand, Callable[[], Any]]] = {}  # node_id -> command
        self._undo: Callable[[], None] | None = None

    def start(self) -> None:
        """Listen to every node's OTA status."""
        self._undo = self.manager.mqtt.subscribe(f"{self.root}devices/+/ota/status", self._status, qos=1)

    def stop(self) -> None:
        """Stop listening; updates in flight fail."""
        if self._undo is not None:
            self._undo()
            self._undo = None
        for node_id in list(self._pending):
            self._finish(node_id, FAILED, "the hub is stopping")

    def busy(self, node_id: str) -> bool:
        """Whether an update of this node is under way."""
        return node_id in self._pending

    def _status(self, message: Message) -> None:
        node_id = message.topic[len(self.root):].split("/")[1]
        if node_id not in self._pending:
            return
        try:
            status = payload_json.loads(message.payload)
        except ValueError:
            return
        state = status.get("state") if isinstance(status, dict) else None
        if state == "installed":
            command = self._pending[node_id][0]
            command.confirmed, command.new_state = self.manager.clock.time(), "installed"
            self._finish(node_id, CONFIRMED)
        elif state == "refused":
            self._finish(node_id, FAILED, f"the device refused the update: {status.get('reason')}")

    async def request(self, device_id: str, node_id: str, parameters: dict[str, Any], context: Context,
                      remote: str | None) -> RelayCommand:
        """Publish the begin message and follow the node's status until installed or refused."""
        manager = self.manager
        command = RelayCommand(f"{node_id}/ota", device_id, OTA, None, context.user_id, context.id,
                               manager.clock.time(), parameters=parameters)
        manager.audit(command, "accepted", remote)
        reason = f"the device reported no installed image within {OTA_TIMEOUT:g} s"
        cancel = manager.clock.call_later(OTA_TIMEOUT, lambda: self._finish(node_id, TIMED_OUT, reason))
        self._pending[node_id] = (command, cancel)
        command.status, command.sent = SENT, manager.clock.time()
        manager.record(command)
        try:
            await manager.mqtt.publish(f"{self.root}devices/{node_id}/ota/begin", json.dumps(parameters), qos=1)
        except HubError as err:
            self._finish(node_id, FAILED, f"publishing failed: {err}")
            return command
        if command.status == SENT:
            command.status = ACKNOWLEDGED
            manager.record(command)
        return command

    def _finish(self, node_id: str, status: str, reason: str | None = None) -> None:
        found = self._pending.pop(node_id, None)
        if found is None:
            return
        command, cancel = found
        cancel()
        command.status, command.error = status, reason
        self.manager.record(command)
