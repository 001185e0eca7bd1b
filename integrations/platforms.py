"""Entity platforms configured as a list under an entity domain (`sensor:`, `binary_sensor:`, `switch:`).

    sensor:
      - platform: integration        # integrations/integration/sensor.py
        source: sensor.kitchen_power
      - platform: template           # integrations/template/sensor.py (the legacy format)
        sensors: {...}

Each item's `platform` names an integration (found like any other: entry points, then
`<config>/custom_integrations/`); the module `<integration>.<domain>` (e.g.
`integrations.integration.sensor`) provides it with:

- `PLATFORM_SCHEMA`: a voluptuous schema for the item (the `platform` key included);
- `async def setup_platform(hub, config, add_entities)`: build the entities of one validated
  item and pass them to `await add_entities([...])`.

One bad item is reported by `hub check-config` with its file and line; at `hub run` it is
logged and skipped while the other items run, as in Home Assistant.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub import hookimpl, plugins
from hub.config import ConfigIssue, issue_from_invalid
from hub.config.objects import get_location, item_locations
from hub.exceptions import HubError

if TYPE_CHECKING:
    from hub.core.entity import Entity
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)

AddEntities = Callable[[Iterable["Entity"]], Awaitable[None]]


def _item(value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise vol.Invalid(f"expected a mapping with a 'platform' key, got {type(value).__name__}")
    if not isinstance(value.get("platform"), str):
        raise vol.Invalid("required key not provided", path=["platform"])
    return value


def _ensure_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# The section's own schema: a list of platform items (one mapping counts as a list of one).
CONFIG_SCHEMA = vol.All(_ensure_list, [_item])


def platform_entity_ids(domain: str, config: Any) -> list[str]:
    """The entity ids (fnmatch patterns) a section of platform items makes, for check-config.

    A static `name` gives `domain.<slug of name>*` (platforms may add a suffix); the legacy
    template format's keys (`sensors:`, `switches:`) give theirs; an item that names nothing
    (its platform names the entity at run time) gives `domain.*`.
    """
    from hub.util import slugify  # noqa: PLC0415

    claims: list[str] = []
    for item in _ensure_list(config):
        if not isinstance(item, Mapping):
            continue
        name = item.get("name")
        if isinstance(name, str) and "{" not in name and slugify(name):
            claims.append(f"{domain}.{slugify(name)}*")
        legacy = next((item[key] for key in ("sensors", "switches") if isinstance(item.get(key), Mapping)), None)
        if legacy is not None:
            claims.extend(f"{domain}.{key}" for key in legacy)
        if not (isinstance(name, str) and slugify(name)) and legacy is None:
            claims.append(f"{domain}.*")
    return claims


class PlatformError(HubError):
    """A platform item that cannot be set up: unknown platform, or invalid options."""


def platform_module(hub: Hub, domain: str, platform: str) -> ModuleType:
    """Return the module providing `platform` for an entity domain.

    Raises:
        PlatformError: no integration of that name, or it has no such platform.
    """
    config_dir = hub.config.config_dir
    integration = plugins.discover(config_dir).get(platform)
    if integration is None:
        message = f"Platform error '{domain}.{platform}' - Integration '{platform}' not found."
        raise PlatformError(message)
    module = integration.load()
    try:
        found = importlib.import_module(f"{module.__name__}.{domain}")
    except ModuleNotFoundError as err:
        message = f"Platform error '{domain}.{platform}' - Integration '{platform}' has no {domain} platform."
        raise PlatformError(message) from err
    if not hasattr(found, "setup_platform"):
        message = f"Platform error '{domain}.{platform}' - Integration '{platform}' has no {domain} platform."
        raise PlatformError(message)
    return found


def _validate(hub: Hub, domain: str, index: int, item: Any, location: Any) -> tuple[ModuleType | None, Any, list[ConfigIssue]]:
    base = str(hub.config.config_dir) if hub.config.config_dir else None
    key = f"{domain}[{index}]"
    file, line = location if location[1] is not None else get_location(item)
    try:
        module = platform_module(hub, domain, item["platform"])
    except PlatformError as err:
        return None, None, [ConfigIssue(file, line, key, str(err), base)]
    schema = getattr(module, "PLATFORM_SCHEMA", None)
    if schema is None:
        return module, item, []
    try:
        return module, schema(item), []
    except vol.Invalid as err:
        return None, None, issue_from_invalid(err, item, key, location=(file, line), base_dir=base)
    except HubError as err:
        return None, None, [ConfigIssue(file, line, key, str(err), base)]


def _items(config: Any) -> list[tuple[int, Any, Any]]:
    items = _ensure_list(config)
    locations = item_locations(items) if isinstance(config, list) else [get_location(config)] * len(items)
    return [(index, item, locations[index]) for index, item in enumerate(items)]


def check_platforms(hub: Hub, domain: str, config: Any) -> list[ConfigIssue]:
    """Validate every platform item of a domain's section; return the problems."""
    issues: list[ConfigIssue] = []
    for index, item, location in _items(config):
        issues.extend(_validate(hub, domain, index, item, location)[2])
    return issues


async def setup_platforms(hub: Hub, domain: str, config: Any) -> None:
    """Set up every valid platform item of a domain's section; log and skip the others."""
    for index, item, location in _items(config):
        module, validated, issues = _validate(hub, domain, index, item, location)
        for issue in issues:
            _LOGGER.error("Invalid %s platform, skipped: %s", domain, issue.format())
        if module is None:
            continue
        platform = str(item["platform"])

        async def add_entities(entities: Iterable[Entity], _platform: str = platform) -> None:
            for entity in entities:
                await hub.entities.add(entity, _platform)

        try:
            await module.setup_platform(hub, validated, add_entities)
        except HubError as err:
            file, line = location
            _LOGGER.error("%s:%s: setting up %s platform %s failed: %s", file, line, domain, platform, err)


def section_hooks(domain: str) -> tuple[Callable[..., list[ConfigIssue]], Callable[..., list[str]],
                                        Callable[..., Awaitable[None]]]:
    """Return the hooks of an entity domain whose section lists platform items.

    The integration module of `sensor:`, `binary_sensor:` or `switch:` is then:

        DOMAIN = "sensor"
        check_integration_config, config_entity_ids, setup_integration = section_hooks(DOMAIN)
    """

    @hookimpl
    def check_integration_config(hub: Hub, config: Any) -> list[ConfigIssue]:
        """Validate each platform item with its platform's schema."""
        return check_platforms(hub, domain, config)

    @hookimpl
    def config_entity_ids(hub: Hub, config: Any) -> list[str]:
        """The entities the platform items make (patterns where a platform names them at run time)."""
        return platform_entity_ids(domain, config)

    @hookimpl
    async def setup_integration(hub: Hub, config: Any) -> None:
        """Set up each platform item (a bad one is logged and skipped)."""
        await setup_platforms(hub, domain, config)

    return check_integration_config, config_entity_ids, setup_integration
