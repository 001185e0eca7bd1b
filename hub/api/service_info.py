"""Describe the registered services the way clients expect (services.yaml shape)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hub.core.services import Service, SupportsResponse

if TYPE_CHECKING:
    from hub.core.hub import Hub


_LOGGER = logging.getLogger(__name__)
# Built-in services' descriptions: hub/services/<domain>.yaml, in Home Assistant's services.yaml format.
SHIPPED = Path(__file__).resolve().parents[1] / "services"


@functools.cache
def shipped_descriptions(domain: str) -> dict[str, Any]:
    """The services.yaml of a built-in domain ({} when it has none)."""
    path = SHIPPED / f"{domain}.yaml"
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        _LOGGER.error("%s is not valid YAML: %s", path, err)
        return {}
    return loaded if isinstance(loaded, dict) else {}


def describe_service(service: Service, domain: str = "", name: str = "") -> dict[str, Any]:
    """Return `{name, description, fields[, target][, response]}` for one service; what the
    integration registered wins over the shipped services.yaml."""
    given = {**(shipped_descriptions(domain).get(name) or {}), **service.description} if domain else service.description
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
        domain: {name: describe_service(service, domain, name) for name, service in services.items()}
        for domain, services in hub.services.services().items()
    }
