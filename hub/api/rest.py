"""The REST API under /api/ with Home Assistant's paths, status codes and messages."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.permissions import can_control
from hub.api.responses import json_message
from hub.api.service_info import describe_services
from hub.api.ws_messages import dumps, loads
from hub.auth.audit import describe_target
from hub.core.bus import EVENT_STATE_CHANGED, Event, EventOrigin, callback
from hub.core.context import Context
from hub.core.services import SupportsResponse
from hub.core.states import State
from hub.exceptions import (
    HubError,
    InvalidEntityFormatError,
    InvalidStateError,
    ServiceNotFound,
    ServiceValidationError,
    Unauthorized,
)

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

UNAUTHORIZED = "401: Unauthorized"


def json_response(data: Any, status: int = 200) -> web.Response:
    """Return data as JSON, encoded by the same fast encoder as the WebSocket API."""
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def _context(request: web.Request) -> Context:
    return Context(user_id=request[USER_KEY].id)


async def _json_body(request: web.Request) -> tuple[Any, bool]:
    """Return (decoded body or None when empty, whether it was valid JSON); not UTF-8 is not JSON."""
    body = await request.read()
    if not body.strip():
        return None, True
    try:
        return loads(body), True
    except ValueError:
        return None, False


async def api_root(request: web.Request) -> web.Response:
    """Answer GET /api/ like Home Assistant."""
    return json_message("API running.")


async def get_config(request: web.Request) -> web.Response:
    """GET /api/config."""
    hub = request.app[HUB_KEY]
    return json_response(hub.config.as_dict(hub.state.value))


async def get_components(request: web.Request) -> web.Response:
    """GET /api/components: the loaded integrations."""
    return json_response(sorted(request.app[HUB_KEY].config.components))


async def get_events(request: web.Request) -> web.Response:
    """GET /api/events: every event type someone listens to, with the listener count."""
    counts = request.app[HUB_KEY].bus.listener_counts()
    return json_response([{"event": key, "listener_count": value} for key, value in counts.items()])


async def get_services(request: web.Request) -> web.Response:
    """GET /api/services: [{"domain", "services": {name: description}}]."""
    services = describe_services(request.app[HUB_KEY])
    return json_response([{"domain": domain, "services": value} for domain, value in services.items()])


async def get_states(request: web.Request) -> web.Response:
    """GET /api/states."""
    return json_response([state.as_dict() for state in request.app[HUB_KEY].states.all()])


async def get_state(request: web.Request) -> web.Response:
    """GET /api/states/<entity_id>."""
    state = request.app[HUB_KEY].states.get(request.match_info["entity_id"])
    if state is None:
        return json_message("Entity not found.", 404)
    return json_response(state.as_dict())


async def post_state(request: web.Request) -> web.Response:
    """POST /api/states/<entity_id> (admins): write a state without talking to any device."""
    user = request[USER_KEY]
    entity_id = request.match_info["entity_id"]
    if not user.is_admin:
        return _refused(request, "set_state", entity_id)
    data, valid = await _json_body(request)
    if not valid:
        return json_message("Invalid JSON specified.", 400)
    if not isinstance(data, dict):
        return json_message("State data should be a JSON object", 400)
    new_state = data.get("state")
    if new_state is None:
        return json_message("No state attribute specified.", 400)
    attributes = data.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        return json_message("Attributes should be a JSON object.", 400)
    hub = request.app[HUB_KEY]
    is_new = hub.states.get(entity_id) is None
    try:
        state = hub.states.set(
            entity_id, new_state, attributes, bool(data.get("force_update", False)), _context(request)
        )
    except InvalidEntityFormatError:
        return json_message("Invalid entity ID specified.", 400)
    except InvalidStateError:
        return json_message("Invalid state specified.", 400)
    hub.require_auth().audit.record(user, "set_state", entity_id, "ok", request.remote)
    response = json_response(state.as_dict(), 201 if is_new else 200)
    response.headers["Location"] = f"/api/states/{state.entity_id}"
    return response


async def delete_state(request: web.Request) -> web.Response:
    """DELETE /api/states/<entity_id> (admins)."""
    user = request[USER_KEY]
    hub = request.app[HUB_KEY]
    entity_id = request.match_info["entity_id"]
    if not user.is_admin:
        return _refused(request, "remove_state", entity_id)
    if not hub.states.remove(entity_id, _context(request)):
        return json_message("Entity not found.", 404)
    hub.require_auth().audit.record(user, "remove_state", entity_id, "ok", request.remote)
    return json_message("Entity removed.")


def _refused(request: web.Request, action: str, target: str) -> web.Response:
    """Record a call refused for the user's role, and answer 401."""
    user = request[USER_KEY]
    request.app[HUB_KEY].require_auth().audit.record(user, action, target, "refused", request.remote,
                                                    reason=f"role {user.role} may not {action.replace('_', ' ')}")
    return json_message(UNAUTHORIZED, 401)


async def post_service(request: web.Request) -> web.Response:
    """POST /api/services/<domain>/<service>: call it; return the states it changed."""
    user = request[USER_KEY]
    hub = request.app[HUB_KEY]
    domain, service = request.match_info["domain"], request.match_info["service"]
    if not can_control(user):
        return _audited(hub, user, request, domain, service, None, "refused", json_message(UNAUTHORIZED, 401),
                        f"role {user.role} may not call services")
    data, valid = await _json_body(request)
    if not valid:
        return json_message("Data should be valid JSON.", 400)
    if data is not None and not isinstance(data, dict):
        return json_message("Data should be a JSON object.", 400)
    refusal = hub.services.refusal(domain, service, user, data)
    if refusal is not None:
        return _audited(hub, user, request, domain, service, data, "refused",
                        json_message(f"401: Unauthorized: {refusal}", 401), refusal)
    found = hub.services.get(domain, service)
    if found is None:
        return _audited(hub, user, request, domain, service, data, "not_found",
                        json_message(f"Service {domain}.{service} not found.", 400))
    wants_response = "return_response" in request.query
    if wants_response and found.supports_response is SupportsResponse.NONE:
        return json_message("Service does not support responses. Remove return_response from request.", 400)
    if not wants_response and found.supports_response is SupportsResponse.ONLY:
        return json_message(
            "Service call requires responses but caller did not ask for responses. "
            "Add ?return_response to query parameters.",
            400,
        )
    context = _context(request)
    changed: list[State] = []

    @callback
    def collect(event: Event) -> None:
        new_state = event.data["new_state"]
        if new_state is not None and event.context == context:
            changed.append(new_state)

    unsubscribe = hub.bus.listen(EVENT_STATE_CHANGED, collect)
    try:
        response = await hub.services.call(
            domain, service, data, context=context, blocking=True, return_response=wants_response
        )
    except Unauthorized as err:
        return _audited(hub, user, request, domain, service, data, "unauthorized",
                        json_message(f"401: {err}" if str(err) else UNAUTHORIZED, 401), str(err) or None, context)
    except (ServiceNotFound, ServiceValidationError, vol.Invalid) as err:
        return _audited(hub, user, request, domain, service, data, "service_validation_error",
                        json_message(str(err), 400))
    except HubError as err:
        return _audited(hub, user, request, domain, service, data, "home_assistant_error",
                        json_message(str(err), 500))
    finally:
        unsubscribe()
    states = [state.as_dict() for state in changed]
    body: Any = {"changed_states": states, "service_response": response} if wants_response else states
    return _audited(hub, user, request, domain, service, data, "ok", json_response(body), context=context)


def _audited(hub: Hub, user: Any, request: web.Request, domain: str, service: str, data: Any,
             result: str, response: web.Response, reason: str | None = None, context: Any = None) -> web.Response:
    what = f"{domain}.{service} {describe_target(data, None)}".strip()
    hub.require_auth().audit.record(user, "call_service", what, result, request.remote, reason=reason, context=context)
    return response


async def post_event(request: web.Request) -> web.Response:
    """POST /api/events/<event_type> (admins): fire an event with the body as its data."""
    user = request[USER_KEY]
    if not user.is_admin:
        return json_message(UNAUTHORIZED, 401)
    event_type = request.match_info["event_type"]
    data, valid = await _json_body(request)
    if not valid:
        return json_message("Event data should be valid JSON.", 400)
    if data is not None and not isinstance(data, dict):
        return json_message("Event data should be a JSON object", 400)
    request.app[HUB_KEY].bus.fire(event_type, data, EventOrigin.remote, _context(request))
    return json_message(f"Event {event_type} fired.")


def setup_rest(app: web.Application) -> None:
    """Add the REST routes."""
    router = app.router
    router.add_get("/api/", api_root)
    router.add_get("/api/config", get_config)
    router.add_get("/api/components", get_components)
    router.add_get("/api/events", get_events)
    router.add_post("/api/events/{event_type}", post_event)
    router.add_get("/api/services", get_services)
    router.add_post("/api/services/{domain}/{service}", post_service)
    router.add_get("/api/states", get_states)
    router.add_get("/api/states/{entity_id}", get_state)
    router.add_post("/api/states/{entity_id}", post_state)
    router.add_delete("/api/states/{entity_id}", delete_state)
