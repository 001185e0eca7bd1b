"""Load a list of automation or script configs: one bad item is reported and skipped, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from automations.blueprints import resolve
from automations.config import InvalidConfig
from hub.config import ConfigIssue, load_configuration
from hub.config.labelled import LabelledKind, combine
from hub.config.objects import get_location
from hub.core.runtime import HubKey
from hub.exceptions import ConfigError, HubError

if TYPE_CHECKING:
    from hub.core.hub import Hub

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")
# How the domains reloaded here combine their labelled sections (`automation manual:` ...).
LABELLED_KINDS: dict[str, LabelledKind] = {"automation": "list", "script": "mapping", "scene": "list"}
CONFIG_ISSUES: HubKey[dict[str, list[ConfigIssue]]] = HubKey("automation.config_issues")


def build_each(
    hub: Hub,
    domain: str,
    items: Iterable[tuple[str, Any]],
    build: Callable[[Any, Any, str], _T],
    *,
    check: bool = False,
) -> tuple[list[tuple[str, _T]], list[ConfigIssue]]:
    """Resolve blueprints and build each item; collect a ConfigIssue (file, line, reason) per failure.

    A load logs each issue and keeps them as the domain's config issues; a check (check-config, a
    save through the config API) only returns them: its caller answers with them.
    """
    built: list[tuple[str, _T]] = []
    issues: list[ConfigIssue] = []
    config_dir = hub.config.config_dir
    base_dir = str(config_dir) if config_dir else None
    for key, raw in items:
        prefix = f"{domain}{key}" if key.startswith("[") else f"{domain}.{key}"
        try:
            config = resolve(config_dir, "script" if domain == "script" else domain, raw) if isinstance(raw, dict) else raw
            built.append((key, build(config, raw, key)))
        except InvalidConfig as err:
            issues.append(err.issue(prefix, raw, base_dir))
        except HubError as err:
            file, line = get_location(raw)
            issues.append(ConfigIssue(file, line, prefix, str(err), base_dir))
    if check:
        return built, issues
    for issue in issues:
        _LOGGER.error("Invalid %s, skipped: %s", domain, issue.format(base_dir))
    hub.runtime.setdefault(CONFIG_ISSUES, dict)[domain] = issues
    return built, issues


def config_issues(hub: Hub, domain: str) -> list[ConfigIssue]:
    """The issues of the last load of a domain."""
    return list(hub.runtime.get(CONFIG_ISSUES, {}).get(domain, []))


def reload_section(hub: Hub, domain: str) -> Any:
    """Read configuration.yaml again and return the domain's section.

    Raises:
        HubError: the configuration cannot be read (the running items stay as they are).
    """
    config_dir = hub.config.config_dir
    if config_dir is None:
        message = "This hub has no configuration folder to reload from"
        raise HubError(message)
    try:
        raw = load_configuration(Path(config_dir))
    except ConfigError as err:
        message = f"Reloading {domain} failed: {err}"
        raise HubError(message) from err
    kind = LABELLED_KINDS.get(domain)
    if kind is None:
        return raw.get(domain)
    combined, issues = combine(raw, domain, kind, str(config_dir))
    for issue in issues:
        _LOGGER.error("Reloading %s: %s", domain, issue.format())
    return combined
