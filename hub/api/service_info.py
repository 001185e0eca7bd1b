"""Describe the registered services the way clients expect (services.yaml shape)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hub.core.services import Service, SupportsResponse

if TYPE_CHECKING:
    from hub.core.hub import Hub


_LOGGER = logging.getLogger(__name__)
# Descriptions of the services the core registers for entity domains (switch, number, ...) and
# homeassistant.*: hub/services/<domain>.yaml. Integrations keep theirs next to their code.
SHIPPED = Path(__file__).resolve().parents[1] / "services"


@functools.cache
def load_descriptions(path: Path) -> dict[str, Any]:
    """One services.yaml-format file ({} when missing or broken; broken ones are logged once)."""
    if not path.is_file():
        return {}
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        _LOGGER.error("%s is not valid YAML: %s", path, err)
        return {}
    if loaded is not None and not isinstance(loaded, dict):
        _LOGGER.error("%s: expected a mapping of service names, got %s", path, type(loaded).__name__)
        return {}
    return loaded or {}


def shipped_descriptions(domain: str) -> dict[str, Any]:
    """The core's services.yaml of an entity domain ({} when it has none)."""
    return load_descriptions(SHIPPED / f"{domain}.yaml")


@functools.cache
def _folder_domain(folder: Path) -> str:
    """The domain of the integration in a folder: its manifest's, else the folder's name."""
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            domain = json.loads(manifest.read_text(encoding="utf-8")).get("domain")
        except (ValueError, AttributeError):
            domain = None
        if isinstance(domain, str):
            return domain
    return folder.name


def description_files(module: str | None, domain: str) -> list[Path]:
    """Where a service of `domain` registered from `module` is described, first found first.

    Next to the module: `services/<domain>.yaml` (a folder whose modules register several
    domains, like automations/), then `services.yaml` when the folder is that domain's
    integration (Home Assistant's layout); last the core's hub/services/<domain>.yaml.
    """
    files: list[Path] = []
    loaded = sys.modules.get(module) if module else None
    source = getattr(loaded, "__file__", None)
    if source:
        folder = Path(source).resolve().parent
        files.append(folder / "services" / f"{domain}.yaml")
        if _folder_domain(folder) == domain:
            files.append(folder / "services.yaml")
    files.append(SHIPPED / f"{domain}.yaml")
    return files


def _file_description(service: Service, domain: str, name: str) -> dict[str, Any]:
    for path in description_files(service.module, domain):
        found = load_descriptions(path).get(name)
        if found is not None:
            return dict(found)
    return {}


def describe_service(service: Service, domain: str = "", name: str = "") -> dict[str, Any]:
    """Return `{name, description, fields[, target][, response]}` for one service; what the
    integration registered wins over its services.yaml."""
    given = {**_file_description(service, domain, name), **service.description} if domain else service.description
    description: dict[str, Any] = {
        "name": given.get("name") or "",
        "description": given.get("description") or "",
        "fields": given.get("fields") or {},
    }
    if "target" in given:
        description["target"] = given["target"] or {}
    if service.supports_response is not SupportsResponse.NONE:
        description["response"] = {"optional": service.supports_response is SupportsResponse.OPTIONAL}
    return description


def describe_services(hub: Hub) -> dict[str, dict[str, Any]]:
    """Return {domain: {service: description}} for every registered service."""
    return {
        domain: {name: describe_service(service, domain, name) for name, service in services.items()}
        for domain, services in hub.services.services().items()
    }
