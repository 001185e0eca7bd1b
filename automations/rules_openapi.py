"""The OpenAPI description of /api/v1/automation/rules (automations/rules_api.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.api.openapi import describe, errors, json_body, ref

_RULE_ID = {"name": "rule_id", "in": "path", "required": True, "description": "The rule's id (the automation's `id`)",
            "schema": {"type": "string", "minLength": 1}}
_RUN_ID = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}

_PART = {"type": ["array", "object"], "description": "A list (or a single one as an object)"}
SCHEMAS: dict[str, Any] = {
    "RuleConfig": {
        "type": "object",
        "description": (
            "An automation exactly as in automations.yaml and Home Assistant's config API "
            "(`triggers`, `conditions`, `actions`, `mode` ...; the older `trigger`/`condition`/`action` "
            "keys and `platform`/`service` are accepted too). Checked as check-config checks it."
        ),
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_.\\-]{1,64}$",
                   "description": "On create: the id to use (else one is made). On replace: the path's id, or left out."},
            "alias": {"type": "string"},
            "description": {"type": "string"},
            "triggers": _PART, "conditions": _PART, "actions": _PART,
            "trigger": _PART, "condition": _PART, "action": _PART,
            "mode": {"type": "string", "enum": ["single", "restart", "queued", "parallel"]},
        },
        "example": {
            "alias": "Heater off above 2 kW",
            "triggers": [{"trigger": "numeric_state", "entity_id": "sensor.heater_power", "above": 2000,
                          "for": {"seconds": 10}}],
            "actions": [{"action": "switch.turn_off", "target": {"entity_id": "switch.heater"}}],
        },
    },
    "Rule": {
        "type": "object",
        "required": ["id", "alias", "entity_id", "state", "last_triggered", "editable", "source", "error", "config"],
        "properties": {
            "id": {"type": "string"},
            "alias": {"type": ["string", "null"]},
            "entity_id": {"type": ["string", "null"], "description": "The automation entity; null when it did not load"},
            "state": {"type": ["string", "null"], "description": "`on` (listening to its triggers), `off`, or null"},
            "last_triggered": {"type": ["string", "null"], "description": "ISO 8601"},
            "editable": {"type": "boolean", "description": "In automations.yaml (false: a package or folder; read-only here)"},
            "source": {"type": ["string", "null"], "description": "The file (and line) the rule is in"},
            "error": {"type": ["string", "null"], "description": "Why the rule is not running (file:line: what is wrong)"},
            "config": {"description": "The configuration as written (null for a rule that is not editable here)",
                       "anyOf": [{"type": "object"}, {"type": "null"}]},
        },
    },
    "RuleError": {
        "type": "object",
        "required": ["message"],
        "description": "An error; a save that fails its check names each problem and where it is in the body.",
        "properties": {
            "message": {"type": "string", "example": "Message malformed: automations.yaml:5: automation.x.entity_id: "
                                                     "required key not provided"},
            "pointer": {"type": "string", "description": "JSON pointer (RFC 6901) into the request body of the first "
                                                         "problem; \"\" for the whole body", "example": "/triggers/0/entity_id"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["message", "pointer"],
                "properties": {"message": {"type": "string"}, "pointer": {"type": "string"}}}},
        },
    },
    "RuleTriggerRequest": {
        "type": "object",
        "properties": {
            "skip_condition": {"type": "boolean", "default": True},
            "variables": {"type": "object", "description": "Variables for the run's templates"},
        },
    },
    "RuleRun": {
        "type": "object",
        "required": ["id", "context_id", "run_id"],
        "properties": {
            "id": {"type": "string"},
            "context_id": {"type": "string", "description": "The context of the call; the run's parent context"},
            "run_id": {"type": ["string", "null"], "description": "The run's trace (null if it did not start, e.g. mode single and running)"},
        },
    },
    "TraceSummary": {
        "type": "object",
        "required": ["run_id", "state", "timestamp"],
        "properties": {
            "run_id": {"type": "string"},
            "state": {"type": "string", "enum": ["running", "stopped"]},
            "script_execution": {"type": ["string", "null"],
                                 "description": "finished, failed_conditions, error, cancelled, aborted ..."},
            "last_step": {"type": ["string", "null"]},
            "trigger": {"type": "string"},
            "error": {"type": "string"},
            "timestamp": {"type": "object", "properties": {"start": {"type": "string"},
                                                           "finish": {"type": ["string", "null"]}}},
            "context": {"type": "object"},
        },
    },
    "Trace": {
        "allOf": [ref("TraceSummary"), {
            "type": "object",
            "properties": {"trace": {"type": "object", "description": "Each step by path (trigger/0, action/1 ...)"},
                           "config": {}, "variables": {}},
        }],
    },
}


_LIMITED = ("Rate limited per user and per rule (`http: rules_rate_limit`; by default a burst of 20 per user "
            "and 10 per rule, refilled over 10 s): past it 429 with Retry-After.")


def _ops(base: str) -> dict[str, dict[str, Any]]:
    item = f"{base}/{{rule_id}}"
    rule = json_body(ref("Rule"), "The rule")
    body = {"required": True, "content": {"application/json": {"schema": ref("RuleConfig")}}}
    return {
        base: {
            "get": {"operationId": "listRules", "tags": ["rules"], "summary": "List the rules",
                    "description": "The rules of automations.yaml, then running automations from packages or folders.",
                    "responses": {"200": json_body({"type": "array", "items": ref("Rule")}, "Every rule"), **errors(401)}},
            "post": {"operationId": "createRule", "tags": ["rules"], "summary": "Create a rule (admins)",
                     "description": _LIMITED,
                     "requestBody": body,
                     "responses": {"201": {**rule, "headers": {"Location": {"schema": {"type": "string"}}}},
                                   **errors(400, 401, 403, 409, 429, schema="RuleError")}},
        },
        item: {
            "parameters": [_RULE_ID],
            "get": {"operationId": "getRule", "tags": ["rules"], "summary": "Read a rule",
                    "responses": {"200": rule, **errors(401, 404, 409, schema="RuleError")}},
            "put": {"operationId": "replaceRule", "tags": ["rules"], "summary": "Replace a rule's configuration (admins)",
                    "description": _LIMITED,
                    "requestBody": body,
                    "responses": {"200": rule, **errors(400, 401, 403, 404, 409, 429, schema="RuleError")}},
            "delete": {"operationId": "deleteRule", "tags": ["rules"], "summary": "Delete a rule (admins)",
                       "description": _LIMITED,
                       "responses": {"204": {"description": "Deleted; the automation stopped"},
                                     **errors(401, 403, 404, 409, 429, schema="RuleError")}},
        },
        f"{item}/trigger": {
            "parameters": [_RULE_ID],
            "post": {"operationId": "triggerRule", "tags": ["rules"], "summary": "Run a rule's actions now",
                     "description": "As `automation.trigger`: conditions are skipped unless `skip_condition` is false. "
                                    "Owners, admins and users. " + _LIMITED,
                     "requestBody": {"required": False,
                                     "content": {"application/json": {"schema": ref("RuleTriggerRequest")}}},
                     "responses": {"202": json_body(ref("RuleRun"), "Started"),
                                   **errors(400, 401, 403, 404, 409, 429, schema="RuleError")}},
        },
        f"{item}/traces": {
            "parameters": [_RULE_ID],
            "get": {"operationId": "listRuleTraces", "tags": ["rules"], "summary": "The rule's stored runs, newest first",
                    "responses": {"200": json_body({"type": "array", "items": ref("TraceSummary")}, "Runs"),
                                  **errors(401, 404, 409, schema="RuleError")}},
        },
        f"{item}/traces/{{run_id}}": {
            "parameters": [_RULE_ID, _RUN_ID],
            "get": {"operationId": "getRuleTrace", "tags": ["rules"], "summary": "One run, step by step",
                    "responses": {"200": json_body(ref("Trace"), "The run"), **errors(401, 404, 409, schema="RuleError")}},
        },
    }


def describe_rules(app: web.Application, base: str) -> None:
    """Describe the rules routes under base."""
    describe(app, _ops(base), schemas=SCHEMAS)
