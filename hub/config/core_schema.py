"""Voluptuous schemas for the hub's core sections: homeassistant, http, storage, logger.

Each schema validates the value of its section (not ``{domain: value}``); an
empty section (``http:`` with nothing under it) counts as ``{}``, so defaults
apply.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Any
from urllib.parse import urlparse

import voluptuous as vol

CONF_CUSTOMIZE = "customize"
CONF_PACKAGES = "packages"

UNIT_SYSTEMS = ("metric", "us_customary")
LOG_LEVELS = ("CRITICAL", "FATAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET")

_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$")
_DB_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def empty_to_dict(value: Any) -> Any:
    """Treat an empty section (None) as an empty mapping."""
    return {} if value is None else value


def string(value: Any) -> str:
    """Accept a string, or a number turned into a string; reject anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise vol.Invalid("expected str")


def integer(value: Any) -> int:
    """Accept an int or a string of digits; reject booleans and fractions."""
    if isinstance(value, bool):
        raise vol.Invalid("expected int")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise vol.Invalid("expected int")


def number(value: Any) -> float:
    """Accept a number or a numeric string as a float."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise vol.Invalid("expected a number") from None


def ensure_list(value: Any) -> list[Any]:
    """Wrap a single value in a list; None becomes []."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def time_zone(value: Any) -> str:
    """Accept an IANA time zone name known to zoneinfo."""
    name = string(value)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise vol.Invalid("expected an IANA time zone such as 'Europe/Amsterdam'") from None
    return name


def url(value: Any) -> str:
    """Accept an http(s) URL with a host."""
    text = string(value)
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise vol.Invalid("expected an http:// or https:// URL")
    return text


def entity_id(value: Any) -> str:
    """Accept an entity id of the form ``domain.object_id`` (lower-cased)."""
    text = string(value).lower()
    if not _ENTITY_ID.match(text):
        raise vol.Invalid("expected an entity id such as 'light.kitchen'")
    return text


def ip_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Accept an IP address or network (``10.0.0.0/8``)."""
    try:
        return ipaddress.ip_network(string(value), strict=False)
    except ValueError:
        raise vol.Invalid("expected an IP address or network") from None


def log_level(value: Any) -> str:
    """Accept a logging level name, case-insensitively, returned upper-case."""
    level = string(value).upper()
    if level not in LOG_LEVELS:
        raise vol.Invalid(f"expected one of {', '.join(level.lower() for level in LOG_LEVELS)}")
    return level


def matching(pattern: re.Pattern[str], message: str, transform: Any = None) -> Any:
    """Build a validator accepting strings that match ``pattern`` (after ``transform``)."""

    def validate(value: Any) -> str:
        text = string(value)
        if transform is not None:
            text = transform(text)
        if not pattern.match(text):
            raise vol.Invalid(message)
        return text

    return validate


CUSTOMIZE_SCHEMA = vol.Schema({entity_id: vol.All(empty_to_dict, {string: object})})

HOMEASSISTANT_SCHEMA = vol.Schema(
    vol.All(
        empty_to_dict,
        {
            vol.Optional("name", default="Home"): string,
            vol.Optional("latitude"): vol.All(number, vol.Range(min=-90, max=90)),
            vol.Optional("longitude"): vol.All(number, vol.Range(min=-180, max=180)),
            vol.Optional("elevation"): integer,
            # zone.home's radius in metres (HA 2024.2+)
            vol.Optional("radius"): vol.All(number, vol.Range(min=0)),
            vol.Optional("unit_system", default="metric"): vol.In(UNIT_SYSTEMS),
            vol.Optional("time_zone", default="UTC"): time_zone,
            vol.Optional("currency", default="EUR"): matching(
                _CURRENCY, "expected an ISO 4217 currency code such as 'EUR'", str.upper
            ),
            vol.Optional("country"): matching(_COUNTRY, "expected an ISO 3166 country code such as 'NL'", str.upper),
            vol.Optional("language", default="en"): matching(_LANGUAGE, "expected a language code such as 'en'"),
            vol.Optional("internal_url"): url,
            vol.Optional("external_url"): url,
            vol.Optional(CONF_CUSTOMIZE, default={}): vol.All(empty_to_dict, CUSTOMIZE_SCHEMA),
            # The hub's own (not Home Assistant's): what one template render may use. Raise it
            # for a heavy template that fails with "used more than its 50 ms CPU budget".
            vol.Optional("template_limits"): vol.All(
                empty_to_dict,
                {
                    vol.Optional("cpu_ms", default=50): vol.All(number, vol.Range(min=1, max=10_000)),
                    vol.Optional("max_output_kib", default=256): vol.All(integer, vol.Range(min=1, max=65_536)),
                },
            ),
            # Packages are merged by the loader before validation; keep them as given.
            vol.Optional(CONF_PACKAGES, default={}): vol.All(empty_to_dict, {string: object}),
        },
    )
)

def _proxies_and_tls(http: dict[str, Any]) -> dict[str, Any]:
    """Check the http keys that only work together (Home Assistant's rules)."""
    if http.get("use_x_forwarded_for") and not http.get("trusted_proxies"):
        raise vol.Invalid("use_x_forwarded_for needs trusted_proxies: the proxies whose X-Forwarded-For to believe")
    if ("ssl_certificate" in http) != ("ssl_key" in http):
        raise vol.Invalid("ssl_certificate and ssl_key go together: set both to serve HTTPS")
    if "ssl_peer_certificate" in http and "ssl_certificate" not in http:
        raise vol.Invalid("ssl_peer_certificate needs ssl_certificate and ssl_key")
    return http


_RATE = vol.Schema({
    vol.Required("commands"): vol.All(integer, vol.Range(min=0)),
    vol.Required("seconds"): vol.All(vol.Coerce(float), vol.Range(min=0.001)),
})
# The device API's rule routes (POST/PUT/DELETE /api/v1/automation/rules[/{id}], POST
# .../{id}/trigger): a burst of `commands` per user and per rule, refilled over `seconds`;
# commands: 0 lifts a limit. The device routes' limits are `relay: rate_limit`.
RULES_RATE_LIMIT_SCHEMA = vol.Schema(vol.All(empty_to_dict, {
    vol.Optional("per_user", default={"commands": 20, "seconds": 10.0}): _RATE,
    vol.Optional("per_rule", default={"commands": 10, "seconds": 10.0}): _RATE,
}))

HTTP_SCHEMA = vol.Schema(
    vol.All(
        empty_to_dict,
        {
            vol.Optional("server_host", default="127.0.0.1"): string,
            vol.Optional("server_port", default=8123): vol.All(integer, vol.Range(min=1, max=65535)),
            vol.Optional("cors_allowed_origins", default=[]): vol.All(ensure_list, [url]),
            vol.Optional("use_x_forwarded_for"): bool,
            vol.Optional("trusted_proxies", default=[]): vol.All(ensure_list, [ip_network]),
            vol.Optional("ssl_certificate"): string,
            vol.Optional("ssl_key"): string,
            vol.Optional("ssl_peer_certificate"): string,
            vol.Optional("ssl_profile", default="modern"): vol.In(("modern", "intermediate")),
            vol.Optional("use_x_frame_options", default=True): bool,
            # Home Assistant's ban of an address after this many failed logins (-1: never).
            vol.Optional("ip_ban_enabled", default=True): bool,
            vol.Optional("login_attempts_threshold", default=-1): vol.All(integer, vol.Any(-1, vol.Range(min=1))),
            # Seconds an access token lives; no longer-lived token is accepted either.
            vol.Optional("access_token_lifetime", default=900): vol.All(integer, vol.Range(min=60, max=86400)),
            # /metrics: a scraper's token, and whether loopback scrapers need none.
            vol.Optional("metrics_token"): string,
            vol.Optional("metrics_allow_loopback", default=True): bool,
            vol.Optional("rules_rate_limit", default={}): RULES_RATE_LIMIT_SCHEMA,
        },
        _proxies_and_tls,
    )
)

STORAGE_SCHEMA = vol.Schema(
    vol.All(
        empty_to_dict,
        {
            # Absent: the hub uses SQLite in its data dir.
            vol.Optional("db_url"): matching(_DB_URL, "expected a database URL such as 'sqlite:///hub.db'"),
            # The role that owns the tables and runs migrations; absent: db_url's. With many
            # homes, db_url is an application role that row-level security binds (docs/security.md).
            vol.Optional("migrate_url"): matching(_DB_URL, "expected a database URL such as 'postgresql://owner@host/hub'"),
        },
    )
)

LOGGER_SCHEMA = vol.Schema(
    vol.All(
        empty_to_dict,
        {
            vol.Optional("default", default="INFO"): log_level,
            vol.Optional("logs", default={}): vol.All(empty_to_dict, {string: log_level}),
            vol.Optional("format", default="text"): vol.In(("text", "json")),
        },
    )
)

CORE_SCHEMAS: dict[str, vol.Schema] = {
    "homeassistant": HOMEASSISTANT_SCHEMA,
    "http": HTTP_SCHEMA,
    "storage": STORAGE_SCHEMA,
    "logger": LOGGER_SCHEMA,
}


def _homes_schema(value: Any) -> Any:
    # hub.homes.config imports this module (time_zone): resolved on use, not at import.
    from hub.homes.config import HOMES_SCHEMA

    return HOMES_SCHEMA(value)


def _plans_schema(value: Any) -> Any:
    # The plans of a many-homes hub's tenants: the built-in ones with this section's overrides.
    from hub.tenancy.plans import resolve_plans

    resolve_plans(value)  # an error names the field: plans.free.limits.devices: ...
    return value


# `homes:` (many homes in one process, docs/homes.md) and the `plans:` of their tenants: left
# out of a config that does not have them.
OPTIONAL_CORE_SCHEMAS: dict[str, vol.Schema] = {"homes": vol.Schema(_homes_schema), "plans": vol.Schema(_plans_schema)}

# A section that means something only beside another is refused alone, saying why: whoever wrote
# it expects it to do something. {section: (the section it needs, why)}.
SECTION_NEEDS: dict[str, tuple[str, str]] = {
    "plans": ("homes", "only a hub of many homes (a `homes:` section) has plans, those of its tenants "
                       "(docs/homes.md); this hub serves one home, which has no plan (no limits, every feature, "
                       "history kept as `recorder:` says): remove `plans:`, or add `homes:`"),
}
