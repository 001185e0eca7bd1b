"""The device API's automation rules: `/api/v1/automation/rules[/{id}[/trigger|/traces]]` in JSON.

A rule is an automation of automations.yaml, the same item Home Assistant's config API
(`/api/config/automation/config/<id>`) and the web editor edit: saved through the one config
store (checked as check-config checks, written atomically, reloaded), so a rule made here runs,
survives a restart and shows in the editor, and one made there is a rule here. A save that does
not pass answers 400 with the check's `file:line` text and a JSON pointer into the body.

Everyone signed in reads; owners and admins write; every role that may call services triggers.
Writes and triggers are rate limited per user and per rule (`http: rules_rate_limit`, the
device routes' token buckets): past the budget the answer is 429 with Retry-After. Every change,
and every refused one, is in the audit log.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from automations.config_store import ConfigStore, ConfigStoreError, managed_file
from automations.integration import DOMAIN, automations
from automations.loader import config_issues
from automations.rules_openapi import describe_rules
from automations.trace import get_trace_store
from hub.api.keys import HUB_KEY, USER_KEY
from hub.api.permissions import can_control
from hub.api.rate_limit import ControlLimits
from hub.api.ws_messages import dumps, loads
from hub.config.core_schema import RULES_RATE_LIMIT_SCHEMA
from hub.config.objects import get_location
from hub.core.context import Context
from hub.exceptions import HubError

if TYPE_CHECKING:
    from automations.automation import AutomationEntity
    from hub.core.hub import Hub

BASE = "/api/v1/automation/rules"
RULE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MODES = ("single", "restart", "queued", "parallel")
LIMITS_KEY = web.AppKey("rule_limits", ControlLimits)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json", headers=headers)


def _error(message: str, status: int, pointer: str | None = None, problems: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if pointer is not None:
        body["pointer"] = pointer
    if problems:
        body["errors"] = problems
    return _json(body, status)


def _running(hub: Hub, rule_id: str) -> AutomationEntity | None:
    return automations(hub).get(rule_id)


def rule_as_dict(hub: Hub, rule_id: str, config: Any, editable: bool, source: str | None = None) -> dict[str, Any]:
    """A rule: its config as written and what the running automation shows."""
    entity = _running(hub, rule_id)
    state = hub.states.get(entity.entity_id) if entity is not None else None
    problems = [i.format() for i in config_issues(hub, DOMAIN) if i.key == f"{DOMAIN}.{rule_id}"
                or i.key.startswith(f"{DOMAIN}.{rule_id}.")]
    return {
        "id": rule_id,
        "alias": config.get("alias") if isinstance(config, dict) else None,
        "entity_id": entity.entity_id if entity is not None else None,
        "state": state.state if state is not None else None,
        "last_triggered": state.attributes.get("last_triggered") if state is not None else None,
        "editable": editable,
        "source": source,
        "error": "; ".join(problems) if entity is None and problems else None,
        "config": config,
    }


class Rules:
    """The rules of one hub: the config store's automations and the running ones."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.store = ConfigStore(hub, DOMAIN)

    def _path(self) -> Any:
        try:
            return managed_file(self.store.config_dir, DOMAIN)
        except ConfigStoreError:
            return None

    def all(self) -> list[dict[str, Any]]:
        """Every rule: the file's, then the running ones from elsewhere (read-only here)."""
        path = self._path()
        rules = [rule_as_dict(self.hub, str(item["id"]), item, True, path.name) for item in self.store.items()] \
            if path is not None else []
        seen = {rule["id"] for rule in rules}
        for rule_id, entity in sorted(automations(self.hub).items()):
            if entity.automation_id is not None and rule_id not in seen:
                rules.append(self._elsewhere(rule_id, entity))
        return rules

    def one(self, rule_id: str) -> dict[str, Any] | None:
        """One rule, None if there is none by that id."""
        path = self._path()
        if path is not None:
            try:
                return rule_as_dict(self.hub, rule_id, self.store.get(rule_id), True, path.name)
            except ConfigStoreError as err:
                if err.status != 404:
                    raise
        entity = _running(self.hub, rule_id)
        if entity is None or entity.automation_id is None:
            return None
        return self._elsewhere(rule_id, entity)

    def _elsewhere(self, rule_id: str, entity: AutomationEntity) -> dict[str, Any]:
        """A rule from a package or a folder: where it is, not its text (secrets there are expanded)."""
        file, line = get_location(entity.config_source)
        source = f"{os.path.relpath(file, self.store.config_dir)}:{line}" if file is not None else None
        return rule_as_dict(self.hub, rule_id, None, False, source)


# The JSON types of the top-level keys, as the OpenAPI document states them; what is inside is
# checked by the automation check itself (it knows triggers, conditions and actions).
_TEXT_KEYS = ("alias", "description")
_PART_KEYS = ("triggers", "conditions", "actions", "trigger", "condition", "action")


def _body_problem(body: Any) -> tuple[str, str] | None:
    """What is wrong with the body's shape, and where; None if it may go to the check."""
    if not isinstance(body, dict):
        return "Expected a JSON object: an automation (alias, triggers, conditions, actions, mode ...)", ""
    for key in _TEXT_KEYS:
        if key in body and not isinstance(body[key], str):
            return f"Field '{key}' must be text", f"/{key}"
    for key in _PART_KEYS:
        if key in body and not isinstance(body[key], list | dict):
            return f"Field '{key}' must be a list (or a single one as an object)", f"/{key}"
    if "mode" in body and body["mode"] not in MODES:
        return f"Field 'mode' must be one of {', '.join(MODES)}", "/mode"
    return None


async def _read_body(request: web.Request) -> tuple[Any, web.Response | None]:
    try:
        body = loads(await request.read())
    except ValueError:
        return None, _error("Invalid JSON specified.", 400, "")
    problem = _body_problem(body)
    return body, (_error(problem[0], 400, problem[1]) if problem else None)


def _audit(request: web.Request, action: str, target: str, result: str, reason: str | None = None) -> None:
    auth = request.app[HUB_KEY].auth
    if auth is not None:
        auth.audit.record(request[USER_KEY], f"automation/rules/{action}", target, result, request.remote,
                          reason=reason)


def _refused(request: web.Request, action: str, target: str, why: str) -> web.Response:
    _audit(request, action, target, "refused", why)
    return _error(f"403: Forbidden: {why}", 403)


def _rate_limited(request: web.Request, action: str, rule_id: str) -> web.Response | None:
    """Spend the user's and the rule's tokens (a new rule's: the collection's), or the audited 429."""
    user = request[USER_KEY]
    limited = request.app[LIMITS_KEY].check(user.id, rule_id or BASE)
    if limited is not None:
        _audit(request, action, rule_id, "refused", "rate limit")
    return limited


def _store_error(request: web.Request, action: str, target: str, err: HubError) -> web.Response:
    """400 with pointers for a check that failed, 404, else 409: the configuration does not allow it."""
    _audit(request, action, target, "refused", str(err))
    if isinstance(err, ConfigStoreError) and err.problems:
        problems = [{"message": p.text, "pointer": p.pointer} for p in err.problems]
        return _error(str(err), 400, err.problems[0].pointer, problems)
    if isinstance(err, ConfigStoreError) and err.status == 404:
        return _error("Rule not found.", 404)
    return _error(str(err), 409)


async def list_rules(request: web.Request) -> web.Response:
    """GET /api/v1/automation/rules."""
    return _json(Rules(request.app[HUB_KEY]).all())


async def get_rule(request: web.Request) -> web.Response:
    """GET /api/v1/automation/rules/{id}."""
    try:
        rule = Rules(request.app[HUB_KEY]).one(request.match_info["rule_id"])
    except ConfigStoreError as err:
        return _error(str(err), 409)
    return _json(rule) if rule is not None else _error("Rule not found.", 404)


async def create_rule(request: web.Request) -> web.Response:
    """POST /api/v1/automation/rules (admins): 201 with the rule, its id from the body or new."""
    hub, user = request.app[HUB_KEY], request[USER_KEY]
    if not user.is_admin:
        return _refused(request, "create", "", f"admins only; user is {user.role}")
    if (limited := _rate_limited(request, "create", "")) is not None:
        return limited
    body, bad = await _read_body(request)
    if bad is not None:
        return bad
    rule_id = body.get("id", uuid.uuid4().hex[:16])
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        return _error("Field 'id' must be 1-64 letters, digits, '_', '-' or '.'", 400, "/id")
    rules = Rules(hub)
    try:
        if rules.one(rule_id) is not None:
            return _exists(request, rule_id)
        await rules.store.save(rule_id, body, only_new=True)
        rule = rules.one(rule_id)
    except ConfigStoreError as err:
        if err.status == 409:  # made by another request meanwhile
            return _exists(request, rule_id)
        return _store_error(request, "create", rule_id, err)
    except HubError as err:
        return _store_error(request, "create", rule_id, err)
    _audit(request, "create", rule_id, "ok")
    return _json(rule, 201, {"Location": f"{BASE}/{rule_id}"})


def _exists(request: web.Request, rule_id: str) -> web.Response:
    _audit(request, "create", rule_id, "refused", "the id is in use")
    return _error(f"A rule with id {rule_id!r} exists; change it with PUT {BASE}/{rule_id}", 409, "/id")


async def replace_rule(request: web.Request) -> web.Response:
    """PUT /api/v1/automation/rules/{id} (admins): the rule's new configuration, whole."""
    user = request[USER_KEY]
    rule_id = request.match_info["rule_id"]
    if not user.is_admin:
        return _refused(request, "update", rule_id, f"admins only; user is {user.role}")
    if (limited := _rate_limited(request, "update", rule_id)) is not None:
        return limited
    body, bad = await _read_body(request)
    if bad is not None:
        return bad
    if "id" in body and body["id"] != rule_id:
        return _error(f"Field 'id' must be {rule_id!r} (the id in the path) or left out", 400, "/id")
    try:
        rules, refused = _editable(request, "update", rule_id)
        if refused is not None:
            return refused
        await rules.store.save(rule_id, body)
        rule = rules.one(rule_id)
    except HubError as err:
        return _store_error(request, "update", rule_id, err)
    _audit(request, "update", rule_id, "ok")
    return _json(rule)


def _elsewhere(rule: dict[str, Any]) -> str:
    return f"Rule {rule['id']!r} is defined in {rule['source'] or 'another file'}, not in the rules file: edit it there"


def _editable(request: web.Request, action: str, rule_id: str) -> tuple[Rules, web.Response | None]:
    """Return the rules and, for a rule that is missing (404) or defined elsewhere (audited), the refusal."""
    rules = Rules(request.app[HUB_KEY])
    found = rules.one(rule_id)
    if found is None:
        return rules, _error("Rule not found.", 404)
    if not found["editable"]:
        return rules, _store_error(request, action, rule_id, HubError(_elsewhere(found)))
    return rules, None


async def delete_rule(request: web.Request) -> web.Response:
    """DELETE /api/v1/automation/rules/{id} (admins): 204; the automation stops at once."""
    user = request[USER_KEY]
    rule_id = request.match_info["rule_id"]
    if not user.is_admin:
        return _refused(request, "delete", rule_id, f"admins only; user is {user.role}")
    if (limited := _rate_limited(request, "delete", rule_id)) is not None:
        return limited
    try:
        rules, refused = _editable(request, "delete", rule_id)
        if refused is not None:
            return refused
        await rules.store.delete(rule_id)
    except HubError as err:
        return _store_error(request, "delete", rule_id, err)
    _audit(request, "delete", rule_id, "ok")
    return web.Response(status=204)


async def trigger_rule(request: web.Request) -> web.Response:
    """POST /api/v1/automation/rules/{id}/trigger: run its actions now (conditions skipped unless asked)."""
    hub, user = request.app[HUB_KEY], request[USER_KEY]
    rule_id = request.match_info["rule_id"]
    if not can_control(user):
        return _refused(request, "trigger", rule_id, f"role {user.role} may not run rules")
    if (limited := _rate_limited(request, "trigger", rule_id)) is not None:
        return limited
    body: Any = {}
    if raw := await request.read():
        try:
            body = loads(raw)
        except ValueError:
            return _error("Invalid JSON specified.", 400, "")
        if not isinstance(body, dict):
            return _error("Expected a JSON object: {skip_condition, variables}, both optional", 400, "")
    skip, variables = body.get("skip_condition", True), body.get("variables", {})
    if not isinstance(skip, bool):
        return _error("Field 'skip_condition' must be true or false", 400, "/skip_condition")
    if not isinstance(variables, dict):
        return _error("Field 'variables' must be an object", 400, "/variables")
    entity = _running(hub, rule_id)
    if entity is None:
        if Rules(hub).one(rule_id) is None:
            return _error("Rule not found.", 404)
        return _error(f"Rule {rule_id!r} is not running (its configuration has a problem; see GET {BASE}/{rule_id})", 409)
    context = Context(user_id=user.id)
    data = {"entity_id": entity.entity_id, "skip_condition": skip, "variables": variables}
    await hub.services.call(DOMAIN, "trigger", data, context=context, blocking=True)
    runs = [t for t in get_trace_store(hub).list(DOMAIN, entity.item_id) if t["context"].get("parent_id") == context.id]
    _audit(request, "trigger", rule_id, "ok")
    return _json({"id": rule_id, "context_id": context.id, "run_id": runs[-1]["run_id"] if runs else None}, 202)


def _traced(request: web.Request) -> tuple[str | None, web.Response | None]:
    """The item id traces are kept under, or the 404 of a rule that does not exist."""
    hub = request.app[HUB_KEY]
    rule_id = request.match_info["rule_id"]
    entity = _running(hub, rule_id)
    if entity is not None:
        return entity.item_id, None
    try:
        found = Rules(hub).one(rule_id)
    except ConfigStoreError as err:
        return None, _error(str(err), 409)
    return (rule_id, None) if found is not None else (None, _error("Rule not found.", 404))


async def list_traces(request: web.Request) -> web.Response:
    """GET /api/v1/automation/rules/{id}/traces: the stored runs, newest first."""
    item_id, missing = _traced(request)
    if missing is not None or item_id is None:
        return missing or _error("Rule not found.", 404)
    runs = get_trace_store(request.app[HUB_KEY]).list(DOMAIN, item_id)
    return _json(list(reversed(runs)))


async def get_trace(request: web.Request) -> web.Response:
    """GET /api/v1/automation/rules/{id}/traces/{run_id}: one run, step by step."""
    item_id, missing = _traced(request)
    if missing is not None or item_id is None:
        return missing or _error("Rule not found.", 404)
    trace = get_trace_store(request.app[HUB_KEY]).get(DOMAIN, item_id, request.match_info["run_id"])
    return _json(trace) if trace is not None else _error("Trace not found.", 404)


def limits(hub: Hub) -> ControlLimits:
    """The rule routes' limits from `http: rules_rate_limit`, on the hub's clock."""
    section = (hub.config.raw.get("http") or {}).get("rules_rate_limit")
    return ControlLimits.from_config(RULES_RATE_LIMIT_SCHEMA(section or {}), "rule", lambda: hub.clock.time(),
                                     acts="requests")


def add_routes(app: web.Application, hub: Hub) -> None:
    """Add the rules routes and describe them in the OpenAPI document."""
    app[LIMITS_KEY] = limits(hub)
    app.router.add_get(BASE, list_rules)
    app.router.add_post(BASE, create_rule)
    app.router.add_get(BASE + "/{rule_id}", get_rule)
    app.router.add_put(BASE + "/{rule_id}", replace_rule)
    app.router.add_delete(BASE + "/{rule_id}", delete_rule)
    app.router.add_post(BASE + "/{rule_id}/trigger", trigger_rule)
    app.router.add_get(BASE + "/{rule_id}/traces", list_traces)
    app.router.add_get(BASE + "/{rule_id}/traces/{run_id}", get_trace)
    describe_rules(app, BASE)
