"""The `notify:` section: a list of targets, as Home Assistant's legacy notify platforms.

    notify:
      - name: email_me
        platform: smtp
        server: smtp.example.com
        port: 587
        encryption: starttls        # tls | starttls | none
        sender: hub@example.com
        recipient: [me@example.com]
        username: hub@example.com
        password: !secret smtp_password
      - name: ops_webhook
        platform: webhook
        url: https://ops.example.com/hooks/hub
      - name: phone
        platform: ntfy
        url: https://ntfy.sh
        topic: my-hub-alerts
        throttle: 5m               # one message per key per 5 minutes (0 disables)

Every target also takes timeout (10 s per attempt), retries (3) and backoff (1 s, doubled
after each failed attempt).
"""

from __future__ import annotations

import re
from typing import Any

import voluptuous as vol

from hub.recorder.config import duration
from integrations.notify.group import GROUP_SCHEMA

PLATFORMS = ("smtp", "webhook", "ntfy", "group")
NAME = re.compile(r"^[a-z0-9_]+$")
DEFAULT_THROTTLE = 60.0


def _name(value: Any) -> str:
    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if not NAME.match(text):
        raise vol.Invalid(f"name must be letters, digits and underscores (it becomes notify.<name>), got {value!r}")
    return text


def _window(value: Any) -> float:
    if value in (0, "0", None, False):
        return 0.0
    return duration(value)


def _url(value: Any) -> str:
    text = str(value).strip()
    if not re.match(r"^https?://[^/\s]+", text):
        raise vol.Invalid(f"expected an http:// or https:// URL, got {value!r}")
    return text


def _emails(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = str(item).strip()
        if "@" not in text:
            raise vol.Invalid(f"expected an email address, got {item!r}")
        out.append(text)
    return out


COMMON: dict[Any, Any] = {
    vol.Required("name"): _name,
    vol.Required("platform"): vol.In(PLATFORMS),
    vol.Optional("timeout", default=10.0): vol.All(vol.Coerce(float), vol.Range(min=0.05, max=300)),
    vol.Optional("retries", default=3): vol.All(int, vol.Range(min=0, max=20)),
    vol.Optional("backoff", default=1.0): vol.All(vol.Coerce(float), vol.Range(min=0, max=3600)),
    vol.Optional("throttle", default=DEFAULT_THROTTLE): _window,
    vol.Optional("verify_ssl", default=True): bool,
}

PLATFORM_SCHEMAS: dict[str, vol.Schema] = {
    "smtp": vol.Schema(
        {
            **COMMON,
            vol.Required("server"): str,
            vol.Optional("port", default=587): vol.All(int, vol.Range(min=1, max=65535)),
            vol.Optional("encryption", default="starttls"): vol.In(("tls", "starttls", "none")),
            vol.Required("sender"): vol.All(_emails, vol.Length(min=1, max=1), lambda v: v[0]),
            vol.Required("recipient"): vol.All(_emails, vol.Length(min=1)),
            vol.Optional("username"): str,
            vol.Optional("password"): str,
            vol.Optional("sender_name"): str,
            vol.Optional("default_title"): str,
        }
    ),
    "webhook": vol.Schema(
        {
            **COMMON,
            vol.Required("url"): _url,
            vol.Optional("method", default="POST"): vol.In(("POST", "PUT")),
            vol.Optional("headers", default=dict): {str: vol.Coerce(str)},
        }
    ),
    "group": vol.Schema({vol.Required("name"): _name, vol.Required("platform"): "group", **GROUP_SCHEMA}),
    "ntfy": vol.Schema(
        {
            **COMMON,
            vol.Required("url"): _url,
            vol.Required("topic"): vol.All(str, vol.Length(min=1, max=64)),
            vol.Optional("token"): str,
            vol.Optional("username"): str,
            vol.Optional("password"): str,
            vol.Optional("priority"): vol.Any(int, str),
            vol.Optional("tags"): vol.Any([str], str),
        }
    ),
}


def _ensure_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


def _target(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid(f"expected a mapping with name and platform, got {type(value).__name__}")
    platform = value.get("platform")
    if platform not in PLATFORM_SCHEMAS:
        raise vol.Invalid(f"platform must be one of {', '.join(PLATFORMS)}, got {platform!r}", path=["platform"])
    return dict(PLATFORM_SCHEMAS[platform](value))


def _unique(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for index, target in enumerate(targets):
        if target["name"] in seen or target["name"] in ("notify", "persistent_notification"):
            raise vol.Invalid(f"the name {target['name']!r} is taken", path=[index, "name"])
        seen.add(target["name"])
    return targets


CONFIG_SCHEMA = vol.Schema(vol.Any(None, vol.All(_ensure_list, [_target], _unique)))
# `notify family:` beside `notify:`: one list of targets.
LABELLED_SECTIONS = "list"
