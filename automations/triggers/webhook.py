"""The webhook trigger and the `/api/webhook/<id>` endpoint (no auth, as in Home Assistant)."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from automations.config import InvalidConfig, ensure_list
from hub.api.keys import HUB_KEY
from hub.core.context import Context
from hub.core.runtime import HubKey
from hub.homes.owners import HOME_IDS

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
WEBHOOKS: HubKey[dict[str, list[dict[str, Any]]]] = HubKey("automation.webhooks")
METHODS = ("GET", "HEAD", "POST", "PUT")


def validate(config: Mapping[str, Any]) -> None:
    """webhook_id required; allowed_methods among GET/HEAD/POST/PUT."""
    if not isinstance(config.get("webhook_id"), str) or not config["webhook_id"]:
        raise InvalidConfig("required key not provided: 'webhook_id'", config, "webhook_id")
    for method in ensure_list(config.get("allowed_methods")):
        if str(method).upper() not in METHODS:
            raise InvalidConfig(f"invalid method {method!r} (allowed: {', '.join(METHODS)})", config, "allowed_methods")


def registry(hub: Hub) -> dict[str, list[dict[str, Any]]]:
    """webhook_id -> handlers registered by triggers."""
    return hub.runtime.setdefault(WEBHOOKS, dict)


def attach(hub: Hub, config: Mapping[str, Any], action: Callable[..., None], info: dict[str, Any]) -> Callable[[], None]:
    """Register the webhook id; a request to it fires the trigger."""
    webhook_id = config["webhook_id"]
    entry = {
        "action": action,
        "methods": {str(m).upper() for m in ensure_list(config.get("allowed_methods")) or ["POST", "PUT"]},
        "local_only": config.get("local_only", True),
    }
    registry(hub).setdefault(webhook_id, []).append(entry)
    # In a multi-home hub, requests that name no home reach this one by the id (hub/homes/owners.py).
    ids = hub.runtime.get(HOME_IDS)
    release = ids.claim_webhook(webhook_id) if ids is not None else None

    def detach() -> None:
        if release is not None:
            release()
        handlers = registry(hub).get(webhook_id, [])
        if entry in handlers:
            handlers.remove(entry)
        if not handlers:
            registry(hub).pop(webhook_id, None)

    return detach


def _is_local(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


async def handle_webhook(request: web.Request) -> web.Response:
    """Answer 200 whatever happens (never reveal whether an id exists); 405 for a bad method."""
    hub = request.app[HUB_KEY]
    webhook_id = request.match_info["webhook_id"]
    handlers = registry(hub).get(webhook_id)
    if not handlers:
        _LOGGER.debug("Received a request for the unknown webhook %s", webhook_id)
        return web.Response(status=200)
    method = request.method.upper()
    if method == "HEAD":
        return web.Response(status=200)
    body = await request.read()
    payload: dict[str, Any] = {"webhook_id": webhook_id, "query": dict(request.query), "json": None, "data": None}
    content_type = request.content_type
    if body:
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            payload["data"] = dict(await request.post())
        else:
            try:
                payload["json"] = json.loads(body)
            except ValueError:
                payload["data"] = body.decode("utf-8", "replace")
    allowed_any = False
    for entry in list(handlers):
        if method not in entry["methods"]:
            continue
        allowed_any = True
        if entry["local_only"] and not _is_local(request.remote):
            _LOGGER.warning("Received remote request for local webhook %s", webhook_id)
            continue
        entry["action"]({**payload, "description": f"webhook '{webhook_id}'"}, Context())
    if not allowed_any:
        return web.Response(status=405)
    return web.Response(status=200)
