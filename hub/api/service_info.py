"""Describe the registered services the way clients expect (services.yaml shape)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.core.services import Service, SupportsResponse

if TYPE_CHECKING:
    from hub.core.hub import Hub


def describe_service(service: Service) -> dict[str, Any]:
    """Return `{name, description, fields[, target][, response]}` for one service."""
    given = service.description
    description: dict[str, Any] = {
        "name": given.get("name", ""),
        "description": given.get("description", ""),
        "fields": given.get("fields", {}),
    }
    if "target" in given:
        description["target"] = given["target"]
    if service.supports_response is not SupportsResponse.NONE:
        description["response"] = {"optional": service.supports_response is SupportsResponse.OPTIONAL}
    return description


def describe_services(hub: Hub) -> dict[str, dict[str, Any]]:
    """Return {domain: {service: description}} for every registered service."""
    return {
        domain: {name: describe_service(service) for name, service in services.items()}
        for domain, services in hub.services.services().items()
    }
