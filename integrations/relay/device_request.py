"""The opening every device route shares: role, device, `?wait=` and JSON body, or the refusal.

`await device_request(request, allowed=can_control, forbidden="...")` answers a `DeviceRequest`
or raises `Refused` with the status and message to send: 403 for a role that may not, 404 for
an unknown device, 400 for a bad `?wait=` or a body that is not JSON. Routes turn a `Refused`
into their answer with `refused.response()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.api.http import HUB_KEY, USER_KEY, json_message
from hub.api.ws_messages import loads
from hub.exceptions import HubError
from integrations.relay.manager import RelayManager, manager_of

if TYPE_CHECKING:
    from hub.auth.store import User
    from hub.core.hub import Hub

MAX_WAIT = 30.0


class Refused(HubError):
    """A request the API refuses: the status and message of the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> web.Response:
        """Return the answer: `{"message": ...}` with the status."""
        return json_message(str(self), self.status)


@dataclass(frozen=True)
class DeviceRequest:
    """A request to one known device, from a user whose role allows it."""

    hub: Hub
    user: User
    manager: RelayManager
    device_id: str
    wait: float
    body: Any


def wait_seconds(request: web.Request) -> float:
    """Return `?wait=` in seconds (0 without it), or refuse a value outside 0..MAX_WAIT."""
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise Refused(400, f"Query 'wait' must be a number of seconds (0 to {MAX_WAIT:g}); got {raw!r}") from None
    if not 0 <= seconds <= MAX_WAIT:
        raise Refused(400, f"Query 'wait' must be between 0 and {MAX_WAIT:g} seconds; got {raw}")
    return seconds


async def device_request(request: web.Request, *, allowed: Callable[[User], bool] | None = None,
                         forbidden: str = "", body: bool = True) -> DeviceRequest:
    """Check the role, find the device and read `?wait=` and the JSON body, in that order.

    Args:
        request: the aiohttp request of a `/api/v1/devices/{device_id}/...` route.
        allowed: whether the user's role may use the route; None lets every user in.
        forbidden: what the 403 says the role cannot do, e.g. "read-only users cannot send commands".
        body: read `?wait=` and the JSON body (False for GET routes).

    Raises:
        Refused: 403, 404 ("Device not found.") or 400, with the message to answer.
    """
    hub, user = request.app[HUB_KEY], request[USER_KEY]
    if allowed is not None and not allowed(user):
        raise Refused(403, f"403: Forbidden ({forbidden})")
    device_id = request.match_info["device_id"]
    manager = manager_of(hub)
    if hub.device_registry is None or hub.device_registry.get(device_id) is None or manager is None:
        raise Refused(404, "Device not found.")
    if not body:
        return DeviceRequest(hub, user, manager, device_id, 0.0, None)
    wait = wait_seconds(request)
    try:
        data: Any = loads(await request.read())
    except ValueError:
        raise Refused(400, "Invalid JSON specified.") from None
    return DeviceRequest(hub, user, manager, device_id, wait, data)
