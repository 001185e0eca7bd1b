"""The service registry: named actions with voluptuous schemas, targets and responses."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

import voluptuous as vol
from voluptuous.humanize import humanize_error

from hub.core.bus import EVENT_CALL_SERVICE, EVENT_SERVICE_REGISTERED, EVENT_SERVICE_REMOVED
from hub.core.context import Context
from hub.exceptions import ServiceNotFound, ServiceValidationError

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

ATTR_ENTITY_ID = "entity_id"
ATTR_DEVICE_ID = "device_id"
ATTR_AREA_ID = "area_id"
TARGET_KEYS = (ATTR_ENTITY_ID, ATTR_DEVICE_ID, ATTR_AREA_ID, "floor_id", "label_id")
ENTITY_MATCH_ALL = "all"


class SupportsResponse(StrEnum):
    """Whether a service returns data to its caller."""

    NONE = "none"
    OPTIONAL = "optional"
    ONLY = "only"


ServiceResponse = dict[str, Any] | None


@dataclass(slots=True)
class ServiceCall:
    """One call of a service: validated data, the resolved targets and the context."""

    domain: str
    service: str
    data: dict[str, Any]
    context: Context
    return_response: bool = False
    entity_ids: list[str] | None = None


ServiceHandler = Callable[[ServiceCall], Awaitable[ServiceResponse] | ServiceResponse]
# (user, the call's data as sent) -> why this user may not make this call, or None.
ServiceAuthorizer = Callable[[Any, Mapping[str, Any]], str | None]


@dataclass(slots=True)
class Service:
    """A registered service."""

    handler: ServiceHandler
    schema: Callable[[Any], Any] | None
    supports_response: SupportsResponse
    description: dict[str, Any] = field(default_factory=dict)
    is_coroutine: bool = False
    authorize: ServiceAuthorizer | None = None
    # The module of the handler: its folder holds the service's services.yaml (hub.api.service_info).
    module: str | None = None


def _ensure_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return list(value)
    return [value]


def _module_of(handler: Any) -> str | None:
    """Return the module a handler (function, closure, bound method or partial) was written in."""
    module = getattr(handler, "__module__", None) or getattr(getattr(handler, "func", None), "__module__", None)
    return module if isinstance(module, str) else None


class ServiceRegistry:
    """Register services and call them, validating their data and expanding their targets."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._services: dict[str, dict[str, Service]] = {}
        # Told (domain, service, seconds, failed) after each call when set; metrics use it,
        # so the core counts nothing itself and imports no metrics library.
        self.call_observer: Callable[[str, str, float, bool], None] | None = None

    def register(
        self,
        domain: str,
        service: str,
        handler: ServiceHandler,
        schema: Callable[[Any], Any] | None = None,
        supports_response: SupportsResponse = SupportsResponse.NONE,
        description: dict[str, Any] | None = None,
        authorize: ServiceAuthorizer | None = None,
    ) -> Callable[[], None]:
        """Register a service and return the function that removes it.

        Args:
            domain: the integration's domain, e.g. "switch".
            service: the service name, e.g. "turn_on".
            handler: an async or plain function taking a ServiceCall; it may return a dict
                response when supports_response is not NONE.
            schema: a voluptuous schema (or any callable) applied to the call's data.
            supports_response: whether the service returns data.
            description: name/description/fields/target as in services.yaml, for clients.
            authorize: checks a user's own call (WebSocket, REST) beyond their role: returns
                why the user may not make it, or None. Automations and scripts, which admins
                configure, are not checked.
        """
        domain, service = domain.lower(), service.lower()
        self._services.setdefault(domain, {})[service] = Service(
            handler,
            schema,
            supports_response,
            description or {},
            asyncio.iscoroutinefunction(handler),
            authorize,
            _module_of(handler),
        )
        self._hub.bus.fire(EVENT_SERVICE_REGISTERED, {"domain": domain, "service": service})
        return lambda: self.remove(domain, service)

    def remove(self, domain: str, service: str) -> None:
        """Remove a service if it is registered."""
        services = self._services.get(domain)
        if services is None or services.pop(service, None) is None:
            return
        if not services:
            del self._services[domain]
        self._hub.bus.fire(EVENT_SERVICE_REMOVED, {"domain": domain, "service": service})

    def has_service(self, domain: str, service: str) -> bool:
        """Return whether domain.service is registered."""
        return service.lower() in self._services.get(domain.lower(), {})

    def get(self, domain: str, service: str) -> Service | None:
        """Return a registered service."""
        return self._services.get(domain.lower(), {}).get(service.lower())

    def refusal(self, domain: str, service: str, user: Any, data: Any) -> str | None:
        """Return why a user may not make this call themselves (the service's own check), or None."""
        found = self.get(domain, service)
        if found is None or found.authorize is None:
            return None
        return found.authorize(user, data if isinstance(data, Mapping) else {})

    def services(self) -> dict[str, dict[str, Service]]:
        """Return all services by domain (a copy)."""
        return {domain: dict(services) for domain, services in self._services.items()}

    def supports_response(self, domain: str, service: str) -> SupportsResponse:
        """Return whether a service responds, or raise ServiceNotFound."""
        found = self.get(domain, service)
        if found is None:
            raise ServiceNotFound(domain, service)
        return found.supports_response

    async def call(
        self,
        domain: str,
        service: str,
        data: dict[str, Any] | None = None,
        *,
        target: dict[str, Any] | None = None,
        context: Context | None = None,
        blocking: bool = True,
        return_response: bool = False,
    ) -> ServiceResponse:
        """Call a service.

        Args:
            domain: the service's domain.
            service: the service's name.
            data: the service data; may hold target keys too, as in Home Assistant.
            target: entity_id / device_id (str, comma-separated str or list, or "all").
            context: why the call is made; a new one when omitted.
            blocking: wait for the handler to finish (otherwise it runs as a task).
            return_response: ask for the service's response; requires blocking.

        Returns:
            The service's response when return_response is true, else None.

        Raises:
            ServiceNotFound: no such service.
            ServiceValidationError: the data or target does not fit, or the response
                request does not fit the service.
        """
        domain, service = domain.lower(), service.lower()
        handler = self._services.get(domain, {}).get(service)
        if handler is None:
            raise ServiceNotFound(domain, service)
        if return_response:
            if not blocking:
                message = "A non blocking service call with argument blocking=False can't be used together with argument return_response=True"
                raise ServiceValidationError(message)
            if handler.supports_response is SupportsResponse.NONE:
                message = "Service does not support responses. Remove return_response from request."
                raise ServiceValidationError(message)
        elif handler.supports_response is SupportsResponse.ONLY:
            message = "Service call requires responses but caller did not ask for responses. Add ?return_response to query parameters."
            raise ServiceValidationError(message)

        payload = dict(data) if data else {}
        if target:
            for key in TARGET_KEYS:
                if key in target:
                    payload[key] = target[key]
        # call_service carries the data as called, not as validated (as HA fires it); copied
        # before validation and target resolution change it, and only when someone listens.
        called = dict(payload) if self._hub.bus.has_listeners(EVENT_CALL_SERVICE) else None
        if handler.schema is not None:
            try:
                payload = handler.schema(payload)
            except vol.Invalid as err:
                message = f"Validation error: {humanize_error(payload, err)}"
                raise ServiceValidationError(message) from err
        context = context or Context()
        entity_ids = self._resolve_targets(payload)
        call = ServiceCall(domain, service, payload, context, return_response, entity_ids)
        if called is not None:
            self._hub.bus.fire(
                EVENT_CALL_SERVICE,
                {"domain": domain, "service": service, "service_data": called},
                context=context,
            )
        if not blocking:
            self._hub.create_task(self._run(handler, call), f"service {domain}.{service}")
            return None
        response = await self._run(handler, call)
        if return_response:
            if response is not None and not isinstance(response, dict):
                message = f"Service {domain}.{service} returned {type(response).__name__}, expected a dict"
                raise ServiceValidationError(message)
            return response
        return None

    async def _run(self, service: Service, call: ServiceCall) -> ServiceResponse:
        observer = self.call_observer
        if observer is None:
            return await self._invoke(service, call)
        began = time.perf_counter()
        failed = True
        try:
            response = await self._invoke(service, call)
            failed = False
            return response
        finally:
            observer(call.domain, call.service, time.perf_counter() - began, failed)

    @staticmethod
    async def _invoke(service: Service, call: ServiceCall) -> ServiceResponse:
        result: Any = service.handler(call)
        if service.is_coroutine or inspect.isawaitable(result):
            result = await result
        return cast(ServiceResponse, result)

    def _resolve_targets(self, payload: dict[str, Any]) -> list[str] | None:
        """Expand entity_id, device_id and area_id into a list of entity_ids (None: no target given)."""
        if not any(key in payload for key in (ATTR_ENTITY_ID, ATTR_DEVICE_ID, ATTR_AREA_ID)):
            return None
        raw_entities = payload.get(ATTR_ENTITY_ID)
        if raw_entities == ENTITY_MATCH_ALL or raw_entities == [ENTITY_MATCH_ALL]:
            return [ENTITY_MATCH_ALL]
        entity_ids: list[str] = []
        for entity_id in _ensure_list(raw_entities):
            if not isinstance(entity_id, str):
                message = f"Invalid entity ID {entity_id!r}: expected a string"
                raise ServiceValidationError(message)
            entity_ids.append(entity_id.lower())
        device_ids = _ensure_list(payload.get(ATTR_DEVICE_ID))
        if device_ids:
            entity_ids.extend(self._hub.entity_ids_for_devices(device_ids))
        area_ids = _ensure_list(payload.get(ATTR_AREA_ID))
        if area_ids:
            entity_ids.extend(self._hub.entity_ids_for_areas(area_ids))
        seen: set[str] = set()
        unique = [e for e in entity_ids if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]
        payload[ATTR_ENTITY_ID] = unique
        return unique
