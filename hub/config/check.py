"""Load configuration.yaml (packages applied) and validate every section of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import voluptuous as vol

from hub.config.core_schema import CORE_SCHEMAS, OPTIONAL_CORE_SCHEMAS, SECTION_NEEDS
from hub.config.issues import ConfigIssue, issue_from_invalid
from hub.config.labelled import LabelledKind, combine, refuse
from hub.config.loader import Secrets, load_yaml
from hub.config.objects import Location, NodeDict, get_location, set_location
from hub.config.packages import domain_of_key, merge_packages
from hub.exceptions import ConfigError, HubError

CONFIG_FILE = "configuration.yaml"

Schema = vol.Schema | Callable[[Any], Any]


def validate_section(
    domain: str,
    schema: Schema,
    config: Any,
    *,
    location: Location | None = None,
    base_dir: str | Path | None = None,
) -> tuple[Any, list[ConfigIssue]]:
    """Validate one section of the configuration.

    Args:
        domain: The section's top-level key (``mqtt``, ``automation manual``);
            it prefixes the dotted key of each issue.
        schema: A voluptuous schema, or any callable raising ``vol.Invalid``
            (or ``ValueError``) on bad input and returning the validated value.
        config: The section's value as loaded.
        location: Where the section's key is defined, for errors at its top.
        base_dir: Folder to show file paths relative to (the config dir).

    Returns:
        ``(validated, [])`` on success, ``(None, issues)`` on failure.
    """
    base = str(base_dir) if base_dir is not None else None
    if not isinstance(schema, vol.Schema):
        schema = vol.Schema(schema)
    try:
        return schema(config), []
    except vol.Invalid as err:
        return None, issue_from_invalid(err, config, domain, location=location, base_dir=base)
    except ConfigError as err:
        return None, list(err.issues)
    except HubError as err:
        file, line = location or get_location(config)
        return None, [ConfigIssue(file, line, domain, str(err), base)]


def _load(config_dir: Path) -> tuple[dict[Any, Any], list[ConfigIssue]]:
    """Load configuration.yaml and merge its packages; return it with the package issues."""
    config_dir = Path(config_dir)
    path = config_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError([ConfigIssue(str(path), None, "", "configuration file not found", str(config_dir))])
    root = load_yaml(path, Secrets(config_dir))
    if root is None:
        root = set_location(NodeDict(), str(path), 1)
    if not isinstance(root, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    *get_location(root),
                    "",
                    f"expected a mapping of sections at the top level, got {type(root).__name__}",
                    str(config_dir),
                )
            ]
        )
    return root, merge_packages(root, str(config_dir))


def _alone(root: Mapping[Any, Any], base: str) -> list[ConfigIssue]:
    """Return an issue for each section of SECTION_NEEDS written without the section it needs."""
    issues = []
    for key in root:
        needs = SECTION_NEEDS.get(key) if isinstance(key, str) else None
        if needs is not None and root.get(needs[0]) is None:
            location = get_location(key) if get_location(key)[1] is not None else get_location(root[key])
            issues.append(ConfigIssue(*location, str(key), needs[1], base))
    return issues


def load_configuration(config_dir: Path) -> dict[Any, Any]:
    """Load ``<config_dir>/configuration.yaml`` with includes, secrets and packages.

    Args:
        config_dir: The configuration folder.

    Returns:
        The root NodeDict, packages merged in.

    Raises:
        ConfigError: The file is missing, unreadable or invalid YAML, a secret,
            include or environment variable is missing, or packages conflict.
    """
    root, issues = _load(config_dir)
    if issues:
        raise ConfigError(issues)
    return root


def check_configuration(
    config_dir: Path,
    schemas: Mapping[str, Schema | None],
    known_domains: set[str],
    labelled: Mapping[str, LabelledKind | None] | None = None,
) -> tuple[dict[Any, Any], list[ConfigIssue]]:
    """Load the configuration and validate every section, collecting all issues.

    Core sections are validated with CORE_SCHEMAS (absent ones get their
    defaults), each integration key (labelled ones such as ``automation manual``
    included) with its domain's schema (None: accepted as is). A key whose
    domain is neither core nor known is reported as not found.

    Args:
        config_dir: The configuration folder.
        schemas: Section schema per integration domain.
        known_domains: Domains that exist (``schemas``' keys count as known).
        labelled: How each domain's labelled sections combine (see hub.config.labelled):
            a domain listed with a kind gets all its sections combined under its own key;
            one listed with None refuses them. Domains not listed keep their sections apart.

    Returns:
        The validated configuration (sections that failed validation left out)
        and the issues; when the YAML cannot be loaded at all, an empty config
        and the loading issues.
    """
    base = str(config_dir)
    try:
        root, issues = _load(Path(config_dir))
    except ConfigError as err:
        return NodeDict(), list(err.issues)
    known = set(known_domains) | set(schemas)
    result = set_location(NodeDict(), *get_location(root))
    for key, value in root.items():
        location = get_location(key) if get_location(key)[1] is not None else get_location(value)
        domain = domain_of_key(key)
        if domain in CORE_SCHEMAS or domain in OPTIONAL_CORE_SCHEMAS:
            if key != domain:
                issues.append(ConfigIssue(*location, str(key), f"core section '{domain}' cannot have a label", base))
                continue
            core_schema = CORE_SCHEMAS.get(domain) or OPTIONAL_CORE_SCHEMAS[domain]
            validated, errors = validate_section(domain, core_schema, value, location=location, base_dir=base)
        elif domain is not None and domain in known:
            schema = schemas.get(domain)
            if schema is None:
                result[key] = value
                continue
            validated, errors = validate_section(str(key), schema, value, location=location, base_dir=base)
        else:
            name = domain if domain is not None else repr(key)
            message = f"Integration error: {name} - Integration '{name}' not found."
            issues.append(ConfigIssue(*location, str(key), message, base))
            continue
        issues.extend(errors)
        if not errors:
            result[key] = validated
    issues.extend(_alone(root, base))
    for domain, kind in (labelled or {}).items():
        if kind is None:
            issues.extend(refuse(root, domain, base))
            continue
        keys = [key for key in result if domain_of_key(key) == domain]
        if keys == [domain] or not keys:
            continue
        combined, errors = combine(result, domain, kind, base)
        issues.extend(errors)
        for key in keys:
            del result[key]
        result[domain] = combined
    for domain, schema in CORE_SCHEMAS.items():
        if domain not in root:
            result[domain] = schema(None)
    return result, issues
