"""The `homes:` section: switches a hub into hosting many homes (docs/homes.md).

The homes listed here, and who may use them, are declared into the tenancy store at every start
(hub/homes/directory.py); the process serves every home of the store (`hub home add` adds more):

    homes:
      - id: flat-a                # letters, digits, "-" and "_"; in URLs and topics
        tenant: acme              # the tenant that owns it ("default" when left out)
        name: Flat A
        topic_root: acme/flat-a/  # its devices' MQTT topics; "<id>/" when left out
        time_zone: Europe/Berlin
        currency: EUR
        members: {alice: owner, bob: user}   # user name: role in this home
"""

from __future__ import annotations

import re
from typing import Any

import voluptuous as vol

from hub.config.core_schema import time_zone
from hub.core.scope import DEFAULT_TENANT_ID

# The roles of hub/storage/models.py USER_ROLES, named here: the config loads before any storage.
ROLES = ("owner", "admin", "user", "read-only")

HOME_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ID_EXPECTED = 'lower-case letters, digits, "-" or "_" (at most 63, starting with a letter or digit)'


def _home_id(value: Any) -> str:
    if not isinstance(value, str) or not HOME_ID.match(value):
        message = f"expected {ID_EXPECTED}; got {value!r}"
        raise vol.Invalid(message)
    return value


def _topic_root(value: Any) -> str:
    # The MQTT integration's own check, so a home's root means exactly what `mqtt: topic_root:` does.
    from integrations.mqtt import topic_root

    try:
        checked = topic_root.check(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from err
    if not checked:
        message = 'a home needs a topic root of its own (e.g. "flat-a/"): homes on one broker must not share topics'
        raise vol.Invalid(message)
    return checked


def _role(value: Any) -> str:
    if value not in ROLES:
        message = f"expected a role, one of {', '.join(ROLES)}; got {value!r}"
        raise vol.Invalid(message)
    return str(value)


HOME_SCHEMA = vol.Schema(
    {
        vol.Required("id"): _home_id,
        vol.Optional("tenant", default=DEFAULT_TENANT_ID): _home_id,
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional("topic_root"): _topic_root,
        vol.Optional("time_zone", default="UTC"): time_zone,
        vol.Optional("currency", default="EUR"): vol.All(str, vol.Match(r"^[A-Z]{3}$", msg="expected an ISO 4217 code such as EUR")),
        vol.Optional("members", default=dict): vol.Schema({str: _role}),
    }
)


def _homes(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        message = "expected a list of homes, each with at least an id"
        raise vol.Invalid(message)
    homes: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        try:
            home = HOME_SCHEMA(item)
        except vol.Invalid as err:
            err.prepend([index])
            raise
        home.setdefault("name", home["id"])
        home.setdefault("topic_root", f"{home['id']}/")
        homes.append(home)
    _check_unique(homes)
    return homes


def _check_unique(homes: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    roots: list[tuple[str, int]] = []
    for index, home in enumerate(homes):
        if home["id"] in seen:
            raise vol.Invalid(f"home id {home['id']!r} is listed twice (items {seen[home['id']]} and {index})", [index, "id"])
        seen[home["id"]] = index
        for root, other in roots:
            if home["topic_root"].startswith(root) or root.startswith(home["topic_root"]):
                message = (f"topic root {home['topic_root']!r} overlaps item {other}'s {root!r}: "
                           "one home's devices could publish into the other's topics")
                raise vol.Invalid(message, [index, "topic_root"])
        roots.append((home["topic_root"], index))


HOMES_SCHEMA = vol.Schema(_homes)
