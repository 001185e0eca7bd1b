"""The `group` notify platform: one notify.<name> that sends to several notify actions.

    notify:
      - name: family
        platform: group
        services:                    # `action:` (or the older `service:`) names notify.<action>
          - action: ops_webhook
          - action: phone
            data:
              data: {priority: high}  # merged into what the member receives

As Home Assistant's group notify: each member gets the call's message, title, target and data,
with the member's own `data` merged over it (recursively); the members are called concurrently
and the call returns when all have answered.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import voluptuous as vol

if TYPE_CHECKING:
    from hub.core.hub import Hub
    from hub.core.services import ServiceCall

_LOGGER = logging.getLogger(__name__)


def _member(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise vol.Invalid(f"expected a mapping with 'action', got {type(value).__name__}")
    member = dict(value)
    if "service" in member:
        if "action" in member:
            raise vol.Invalid("Cannot specify both 'service' and 'action'. Please use 'action' only.")
        member["action"] = member.pop("service")
    return dict(MEMBER_SCHEMA(member))


MEMBER_SCHEMA = vol.Schema(
    {
        vol.Required("action"): vol.All(str, vol.Match(r"^[a-z0-9_]+$", msg="expected the name of a notify action, e.g. ops_webhook")),
        vol.Optional("data"): dict,
    }
)

GROUP_SCHEMA: dict[Any, Any] = {
    vol.Required("services"): vol.All(vol.Length(min=1), [_member]),
}


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def make_handler(hub: Hub, name: str, members: list[dict[str, Any]]) -> Any:
    """Return the handler of notify.<name> for a group."""

    async def handle(call: ServiceCall) -> None:
        payload = {key: value for key, value in call.data.items() if value}
        calls = []
        for member in members:
            data = _merge(copy.deepcopy(payload), member.get("data") or {})
            calls.append(hub.services.call("notify", member["action"], data, context=call.context))
        results = await asyncio.gather(*calls, return_exceptions=True)
        for member, result in zip(members, results, strict=True):
            if isinstance(result, Exception):
                _LOGGER.error("notify.%s: sending to notify.%s failed: %s", name, member["action"], result)

    return handle
